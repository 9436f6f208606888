"""nexus hooks install|status|uninstall, and `nexus hook <agent> <event>` (what the tools run)."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import argparse

    from nexus_memory.config import Settings
    from nexus_memory.integrations.installer import Target

#: Environment variables the tools set to the project folder (when the payload has no cwd).
PROJECT_DIR_VARS = ("CLAUDE_PROJECT_DIR", "GEMINI_PROJECT_DIR", "QWEN_PROJECT_DIR", "FACTORY_PROJECT_DIR",
                    "CURSOR_PROJECT_DIR")
#: Environment variables that move a tool's config folder.
TOOL_ENV = ("PATH", "CLAUDE_CONFIG_DIR", "GEMINI_CLI_HOME", "GEMINI_CLI_TRUST_WORKSPACE", "CODEX_HOME",
            "COPILOT_HOME", "XDG_CONFIG_HOME", "QWEN_CODE_TRUST_WORKSPACE")


COMMANDS = ("hooks", "hook")


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    hooks = sub.add_parser("hooks", help="install, inspect or remove the agent tool integrations")
    hsub = hooks.add_subparsers(dest="hooks_command", metavar="ACTION")

    def _target(p: argparse.ArgumentParser, default_agent: str | None) -> None:
        p.add_argument("-a", "--agent", default=default_agent, required=default_agent is None,
                       help="claude-code, gemini, qwen, codex, opencode, droid, cursor, copilot, or all")
        p.add_argument("--scope", choices=("user", "project"), default="user",
                       help="user settings (default) or the project's own settings files")
        p.add_argument("--project", metavar="DIR", help="project folder for --scope project (default: cwd)")

    p = hsub.add_parser("install", parents=[common], help="write hook entries and the MCP server into a tool")
    _target(p, None)
    p.add_argument("--context-files", action="store_true",
                   help="also add a Nexus block to CLAUDE.md / AGENTS.md / GEMINI.md / QWEN.md (existing files)")
    p.set_defaults(handler=cmd_install)

    p = hsub.add_parser("status", parents=[common], help="per tool: found, installed, capabilities, trust steps")
    _target(p, "all")
    p.set_defaults(handler=cmd_status)

    p = hsub.add_parser("uninstall", parents=[common], help="remove exactly what install wrote")
    _target(p, None)
    p.set_defaults(handler=cmd_uninstall)
    hooks.set_defaults(handler=lambda a: (hooks.print_help(), 2)[1])

    p = sub.add_parser("hook", parents=[common], help="run one hook event (what the installed entries call)",
                       description="Reads the tool's JSON payload on stdin and prints the tool's JSON answer. "
                                   "Always exits 0; problems go to the hook error log.")
    p.add_argument("agent", nargs="?", help="the calling tool, e.g. claude-code")
    p.add_argument("event", nargs="?", help="the event as the tool names it, e.g. PostToolUse")
    p.add_argument("--sync", action="store_true", help="do end-of-session work inline instead of detached")
    p.add_argument("--worker", action="store_true", help="drain the spools (started detached by the hooks)")
    p.set_defaults(handler=cmd_hook)


# ------------------------------------------------------------------------------------------- hook
def hook_main(argv: Sequence[str]) -> int:
    """Fast path used by `nexus hook ...`: no argparse, no other command modules (every ms counts)."""
    flags = {"--sync": False, "--worker": False, "--json": False}
    values: dict[str, str | None] = {"--db": None, "--database-url": None}
    positional: list[str] = []
    items = list(argv)
    while items:
        item = items.pop(0)
        name, eq, value = item.partition("=")
        if name in values:
            values[name] = value if eq else (items.pop(0) if items else None)
        elif item in flags:
            flags[item] = True
        elif not item.startswith("--"):
            positional.append(item)
    args = SimpleNamespace(
        agent=positional[0] if positional else None, event=positional[1] if len(positional) > 1 else None,
        sync=flags["--sync"], worker=flags["--worker"], json=flags["--json"], db=values["--db"],
        database_url=values["--database-url"])
    return cmd_hook(args)  # type: ignore[arg-type]


def cmd_hook(args: argparse.Namespace) -> int:
    try:
        from nexus_memory.config import load_settings  # not cli.context: it costs argparse

        settings = load_settings(database_path=getattr(args, "db", None),
                                 database_url=getattr(args, "database_url", None))
    except Exception as exc:  # fail open even on a broken config file
        sys.stderr.write(f"nexus hook: {exc}\n")
        if not args.worker:
            sys.stdout.write("{}\n")
        return 0
    from nexus_memory.integrations import hook

    if args.worker:
        from nexus_memory.integrations.hook_drain import run_drain

        run_drain(settings)
        return 0
    stdin = ""
    try:
        if not sys.stdin.isatty():
            from nexus_memory.integrations.events import MAX_STDIN_BYTES

            # Bounded: a tool (or /dev/zero) can send more than memory holds; past the cap the event is
            # skipped, not half-parsed, and the hook answers at once.
            data = sys.stdin.buffer.read(MAX_STDIN_BYTES + 1)
            if len(data) > MAX_STDIN_BYTES:
                from nexus_memory.integrations.spool import log_error

                log_error(settings.paths.log_dir, f"hook {args.agent} {args.event}: payload over "
                          f"{MAX_STDIN_BYTES} bytes skipped (not stored)")
                sys.stdout.write("{}\n")
                sys.stdout.flush()
                return 0
            stdin = data.decode("utf-8", errors="replace")
    except (OSError, ValueError, AttributeError, MemoryError):
        stdin = ""
    project_dir = next((os.environ[v] for v in PROJECT_DIR_VARS if os.environ.get(v)), None)
    out = hook.run(hook.HookInput(agent=args.agent or "unknown", event=args.event, stdin=stdin,
                                  settings=settings, project_dir=project_dir, sync=args.sync))
    sys.stdout.write(out + "\n")
    sys.stdout.flush()
    return 0


# ------------------------------------------------------------------------------------------- hooks
def nexus_command(settings: Settings) -> str:
    """How the tools should run nexus: NEXUS_HOOK_BINARY, this venv's script, PATH, or plain `nexus`."""
    import shlex
    import shutil

    chosen = settings.extra.get("NEXUS_HOOK_BINARY")
    if not chosen:
        beside = Path(sys.executable).with_name("nexus")
        chosen = str(beside) if beside.exists() else (shutil.which("nexus") or "nexus")
    return shlex.quote(chosen)


def target_from(args: argparse.Namespace, settings: Settings) -> Target:
    from nexus_memory.integrations.installer import Target

    home = Path(os.environ.get("HOME") or Path.home())
    project = Path(args.project or os.getcwd()).expanduser().resolve()
    env = {k: os.environ[k] for k in TOOL_ENV if os.environ.get(k)}
    return Target(home=home, project=project, scope=args.scope, command=nexus_command(settings),
                  state_dir=settings.paths.config_dir, env=env, context_files=bool(getattr(args, "context_files",
                                                                                              False)))


def _run_each(args: argparse.Namespace, action: str) -> int:
    from nexus_memory.cli.context import settings_from
    from nexus_memory.cli.output import emit_json
    from nexus_memory.errors import NexusError
    from nexus_memory.integrations.installer import Manifest
    from nexus_memory.integrations.registry import tools

    settings = settings_from(args)
    target = target_from(args, settings)
    selected = tools(args.agent)
    manifest = Manifest(target.state_dir)
    report: list[dict[str, Any]] = []
    failed: list[str] = []
    for t in selected:
        try:
            changes = t.install(target, manifest) if action == "install" else t.uninstall(target, manifest)
            entry: dict[str, Any] = {"agent": t.name, "changes": [c.to_dict() for c in changes]}
            if action == "install":
                entry["status"] = t.status(target).to_dict()
        except NexusError as exc:
            failed.append(f"{t.display}: {exc.one_line()}")
            entry = {"agent": t.name, "error": exc.one_line()}
        finally:
            manifest.save()
        report.append(entry)
    if args.json:
        emit_json(report)
    else:
        for entry in report:
            name = entry["agent"]
            if "error" in entry:
                print(f"{name}: not changed: {entry['error']}")
                continue
            for c in entry["changes"]:
                detail = f" ({c['detail']})" if c["detail"] else ""
                print(f"{name}: {c['action']} {c['path']}{detail}")
            for note in (entry.get("status") or {}).get("notes", []):
                print(f"{name}: note: {note}")
    if failed:
        from nexus_memory.errors import IntegrationError

        raise IntegrationError(f"{len(failed)} tool(s) not changed: " + "; ".join(failed),
                               hint="fix the named file by hand (it was left untouched), then rerun")
    return 0


def cmd_install(args: argparse.Namespace) -> int:
    return _run_each(args, "install")


def cmd_uninstall(args: argparse.Namespace) -> int:
    return _run_each(args, "uninstall")


def cmd_status(args: argparse.Namespace) -> int:
    from nexus_memory.cli.context import settings_from
    from nexus_memory.cli.output import emit_json
    from nexus_memory.integrations.registry import tools

    settings = settings_from(args)
    target = target_from(args, settings)
    statuses = [t.status(target) for t in tools(args.agent)]
    if args.json:
        emit_json([s.to_dict() for s in statuses])
        return 0
    for s in statuses:
        print(f"{s.display} ({s.agent}): {'found' if s.found else 'not found'}, installed: {s.installed}")
        print("    " + ", ".join(f"{k}={v}" for k, v in s.capabilities.items()))
        for note in s.notes:
            print(f"    note: {note}")
    return 0
