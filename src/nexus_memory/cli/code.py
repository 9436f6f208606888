"""nexus project | verify: the project identity Nexus resolves here, and its code anchors re-checked (issue 16)."""

from __future__ import annotations

import argparse
from typing import Any

COMMANDS = ("project", "verify")


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("project", parents=[common],
                       help="show the project identity resolved for a folder (repository, branch, worktree)")
    p.add_argument("--cwd", help="the folder (default: the current folder)")
    p.set_defaults(handler=cmd_project)

    p = sub.add_parser("verify", parents=[common],
                       help="re-check the code anchors of a project's memories; follow renames, mark stale ones")
    p.add_argument("--cwd", help="a folder of the project (default: the current folder)")
    p.add_argument("--dry-run", action="store_true", help="report only; store no state or repair")
    p.add_argument("--limit", type=int, default=None, help="newest memories checked (default: all)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar on standard error")
    p.set_defaults(handler=cmd_verify)


def _resolve(args: argparse.Namespace, app: Any) -> Any:
    from pathlib import Path

    from nexus_memory.errors import InvalidInput
    from nexus_memory.integrations.paths import Paths
    from nexus_memory.project import resolve_project

    folder = Path(args.cwd or ".").expanduser()
    if not folder.is_dir():
        raise InvalidInput(f"--cwd {str(folder)[:200]} is not a folder", hint="pass a folder of the project")
    return resolve_project(folder, cache_dir=Paths(app.settings).projects)


def cmd_project(args: argparse.Namespace) -> int:
    from nexus_memory.cli.context import app_from
    from nexus_memory.cli.output import emit_json
    from nexus_memory.domain.models import MemoryFilter

    with app_from(args) as app:
        proj = _resolve(args, app)
        count = app.store.count(MemoryFilter(projects=proj.scope_keys()))
    co = proj.checkout
    info: dict[str, Any] = {
        "name": proj.display_name, "key": proj.id, "root": str(proj.root), "remote": proj.git_remote,
        "git": co is not None, "branch": co.branch if co else None, "head": co.head if co else None,
        "worktree": str(co.worktree) if co else None, "common_dir": str(co.common_dir) if co else None,
        "worktrees": [str(p) for p in co.worktrees()] if co else [], "scope_keys": list(proj.scope_keys()),
        "memories": count,
    }
    if args.json:
        emit_json(info)
        return 0
    print(f"Project: {info['name']}")
    print(f"  key: {info['key']}")
    print(f"  root: {info['root']}")
    if co is not None:
        print(f"  branch: {co.branch or '(detached HEAD)'} at {(co.head or '(no commits)')[:12]}")
        print(f"  repository: {co.common_dir}")
        print(f"  worktrees: {', '.join(info['worktrees'])}")
        if proj.git_remote:
            print(f"  remote: {proj.git_remote}")
    else:
        print("  not a git repository: memories are scoped by this folder")
    print(f"  memories: {count}")
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    from nexus_memory.cli.context import app_from
    from nexus_memory.cli.embeddings import ProgressBar
    from nexus_memory.cli.output import emit_json
    from nexus_memory.errors import InvalidInput
    from nexus_memory.integrations.paths import Paths
    from nexus_memory.project.scope import CodeScope
    from nexus_memory.services.anchors import verify

    if args.limit is not None and args.limit < 1:
        raise InvalidInput(f"--limit {args.limit} is out of range", hint="use 1 or more")
    with app_from(args) as app:
        proj = _resolve(args, app)
        if proj.checkout is None:
            raise InvalidInput(f"{proj.root} is not in a git repository",
                               hint="code anchors exist in git repositories; run nexus verify inside one")
        bar = ProgressBar("verify", enabled=not args.no_progress and not args.json)
        report = verify(app.store, proj, CodeScope(proj, Paths(app.settings).projects), write=not args.dry_run,
                        limit=args.limit, progress=lambda done, total: bar(done, total))
    if args.json:
        emit_json(report.to_dict())
        return 0
    states = ", ".join(f"{n} {s.replace('_', ' ')}" for s, n in sorted(report.states.items())) or "none"
    print(f"{report.checked} memories with code anchors checked in {proj.display_name} "
          f"({proj.checkout.branch or 'detached HEAD'}): {states}")
    if report.other_branch:
        print(f"{report.other_branch} memories of branches not merged here were left alone")
    for mid, state, changes, text in report.flagged:
        print(f"  #{mid} {state.replace('_', ' ')}: {changes or '-'}  | {text}")
    if report.updated:
        print(f"{report.updated} memories updated" + (" (dry run: nothing stored)" if args.dry_run else ""))
    return 0
