"""export, import and migrate (docs/export-format.md, docs/postgres.md)."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nexus_memory.cli.filters import split_csv

if TYPE_CHECKING:
    from nexus_memory.config import Settings
    from nexus_memory.services.portability.importer import ImportReport
    from nexus_memory.storage.base import Store

COMMANDS = ("export", "import", "migrate")
FORMATS = ("nexus", "mcp-memory", "instructions")


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("export", parents=[common], help="write memories as versioned JSON Lines to stdout",
                       description="Export namespaces, memories, relations, evidence and digests as Nexus "
                                   "export format v1 (docs/export-format.md).")
    p.add_argument("-a", "--agent", action="append", metavar="NAME", help="only these agents (repeatable)")
    p.add_argument("--since", metavar="WHEN", help="only memories created at or after (ISO date or age like 7d)")
    p.add_argument("--embeddings", action="store_true", help="include stored embedding vectors")
    p.add_argument("-o", "--output", metavar="FILE", help="write to FILE instead of standard output")
    p.set_defaults(handler=cmd_export)

    p = sub.add_parser("import", parents=[common], help="import a Nexus export or another tool's memory file",
                       description="Import a file. Re-importing the same file changes nothing.")
    p.add_argument("file", metavar="FILE", help="the file to import")
    p.add_argument("--format", choices=FORMATS, default=None,
                   help="nexus (a `nexus export` file), mcp-memory (the MCP memory server's memory.jsonl) or "
                        "instructions (CLAUDE.md / AGENTS.md bullets); default: guessed from the file")
    p.add_argument("-a", "--agent", metavar="NAME",
                   help="agent namespace for mcp-memory and instructions imports (default: the default agent)")
    p.add_argument("--strict", action="store_true", help="stop at the first malformed line instead of skipping it")
    p.add_argument("--batch-size", type=int, default=500, help="memories per transaction (default 500)")
    p.add_argument("--quiet", action="store_true", help="no progress on standard error")
    p.set_defaults(handler=cmd_import)

    migrate = sub.add_parser("migrate", help="move memories between backends, or in from upstream Nexus")
    msub = migrate.add_subparsers(dest="migrate_command", metavar="ACTION")
    p = msub.add_parser("sqlite-to-postgres", parents=[common],
                        help="copy the SQLite database (--db) into PostgreSQL (--database-url), counts verified")
    p.add_argument("--no-embeddings", action="store_true", help="leave the embedding vectors behind")
    p.add_argument("--quiet", action="store_true", help="no progress on standard error")
    p.set_defaults(handler=cmd_sqlite_to_postgres)
    p = msub.add_parser("postgres-to-sqlite", parents=[common],
                        help="copy PostgreSQL (--database-url) into the SQLite database (--db), counts verified")
    p.add_argument("--no-embeddings", action="store_true", help="leave the embedding vectors behind")
    p.add_argument("--quiet", action="store_true", help="no progress on standard error")
    p.set_defaults(handler=cmd_postgres_to_sqlite)
    p = msub.add_parser("from-upstream", parents=[common],
                        help="import an upstream (Rust-era) Nexus database into the configured store")
    p.add_argument("path", metavar="NEXUS_DB", help="the upstream nexus.db (opened read-only)")
    p.add_argument("--strict", action="store_true", help="stop at the first unreadable record")
    p.add_argument("--quiet", action="store_true", help="no progress on standard error")
    p.set_defaults(handler=cmd_from_upstream)
    migrate.set_defaults(handler=lambda a: (migrate.print_help(), 2)[1])


# helpers ---------------------------------------------------------------------------
class Progress:
    """One line on stderr: rewritten in place on a terminal, every few seconds otherwise."""

    def __init__(self, label: str, total_bytes: int | None = None, quiet: bool = False) -> None:
        self.label = label
        self.total = total_bytes
        self.quiet = quiet
        self.tty = sys.stderr.isatty()
        self.last = 0.0

    def __call__(self, report: ImportReport) -> None:
        now = time.monotonic()
        if self.quiet or now - self.last < (0.2 if self.tty else 5.0):
            return
        self.last = now
        done = report.created + report.merged + report.unchanged
        share = f" {100 * report.bytes_read / self.total:5.1f}%" if self.total and report.bytes_read else ""
        text = (f"{self.label}:{share} {done} memories ({report.created} new, {report.merged} merged, "
                f"{report.unchanged} unchanged), {len(report.skipped)} skipped")
        sys.stderr.write(("\r" + text + "\x1b[K") if self.tty else text + "\n")
        sys.stderr.flush()

    def done(self) -> None:
        if self.tty and not self.quiet and self.last:
            sys.stderr.write("\n")


def _print_report(args: argparse.Namespace, data: dict[str, Any], title: str) -> None:
    from nexus_memory.cli.output import emit_json

    if args.json:
        emit_json(data)
        return
    imp = data.get("import", data)
    print(f"{title}: {imp.get('created', 0)} memories created, {imp.get('merged', 0)} merged into existing, "
          f"{imp.get('unchanged', 0)} already present; {imp.get('relations', 0)} relations, "
          f"{imp.get('evidence', 0)} evidence links, {imp.get('digests', 0)} digests, {imp.get('vectors', 0)} vectors")
    for key in ("source", "target"):
        if key in data:
            print(f"  {key}: " + ", ".join(f"{k} {v}" for k, v in data[key].items()))
    skipped = imp.get("skipped") or []
    for item in skipped[:20]:
        sys.stderr.write(f"nexus: skipped line {item['line']}: {item['reason']}\n")
    if len(skipped) > 20:
        sys.stderr.write(f"nexus: ... and {len(skipped) - 20} more skipped lines (see --json)\n")
    for note in data.get("notes", []):
        sys.stderr.write(f"nexus: note: {note}\n")
    if imp.get("unresolved_links"):
        sys.stderr.write(f"nexus: {imp['unresolved_links']} links pointed at memories not in the file; left out\n")
    if "complete" in imp and not imp["complete"]:
        sys.stderr.write("nexus: warning: the file has no end record; it may be truncated (import again when "
                         "you have the whole file: nothing is duplicated)\n")


def _open(settings: Settings, *, postgres: bool) -> Store:
    from dataclasses import replace

    from nexus_memory.app import open_store
    from nexus_memory.errors import ConfigError

    if postgres and not settings.database_url:
        raise ConfigError("no PostgreSQL URL given",
                          hint="pass --database-url postgresql://user@host/db or set NEXUS_DATABASE_URL")
    return open_store(settings if postgres else replace(settings, database_url=None))


# commands --------------------------------------------------------------------------
def cmd_export(args: argparse.Namespace) -> int:
    from nexus_memory.cli.context import app_from
    from nexus_memory.domain.agents import validate_agent_name
    from nexus_memory.domain.timeutil import parse_when
    from nexus_memory.services.portability.exporter import export_records

    agents = [validate_agent_name(a) for a in split_csv(args.agent)] or None
    since = parse_when(args.since) if args.since else None
    target = Path(args.output).expanduser() if args.output else None
    if target is not None:
        _check_export_target(target)
    app = app_from(args, existing=True)
    counts: dict[str, Any] = {}
    try:
        out = _open_export(target) if target is not None else sys.stdout
        try:
            for rec in export_records(app.store, agents=agents, since=since, embeddings=args.embeddings):
                if rec["type"] == "end":
                    counts = rec["counts"]
                out.write(json.dumps(rec, ensure_ascii=False, separators=(",", ":"), default=str) + "\n")
            out.flush()
        finally:
            if target is not None:
                out.close()
    except OSError as exc:
        _export_failed(target, exc)
    finally:
        app.close()
    summary = ", ".join(f"{v} {k}" for k, v in counts.items())
    sys.stderr.write((json.dumps({"exported": counts}) if args.json else f"nexus: exported {summary}") + "\n")
    return 0


def _check_export_target(target: Path) -> None:
    from nexus_memory.errors import InvalidInput

    if target.is_dir():
        raise InvalidInput(f"{target} is a folder", hint=f"name a file, e.g. -o {target / 'nexus-export.jsonl'}")
    if not target.parent.is_dir():
        raise InvalidInput(f"the folder {target.parent} does not exist", hint="create it first, or pick another -o")


def _open_export(target: Path) -> Any:
    """The export file, created 0600 (it holds every memory)."""
    import os

    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC
    fd = os.open(target, flags, 0o600)
    return os.fdopen(fd, "w", encoding="utf-8")


def _export_failed(target: Path | None, exc: OSError) -> None:
    """One line for a write that failed (a full disk, /dev/full); a partial regular file is removed."""
    import stat

    from nexus_memory.errors import StorageError

    if target is not None:
        try:
            if stat.S_ISREG(target.stat().st_mode):
                target.unlink()
        except OSError:
            pass
    where = str(target) if target is not None else "standard output"
    raise StorageError(f"cannot write the export to {where}: {exc.strerror or exc}",
                       hint="free some space or choose another -o FILE; nothing was exported") from None


def _guess_format(path: Path) -> str:
    if path.suffix.lower() in (".md", ".markdown", ".txt"):
        return "instructions"
    with path.open("rb") as fh:
        first = fh.readline(65536)
    try:
        rec = json.loads(first)
    except ValueError:
        return "nexus"  # the nexus importer reports line 1 precisely
    if isinstance(rec, dict) and rec.get("type") in ("entity", "relation") and "format" not in rec:
        return "mcp-memory"
    return "nexus"


def cmd_import(args: argparse.Namespace) -> int:
    from nexus_memory.cli.context import app_from
    from nexus_memory.errors import InvalidInput

    path = Path(args.file).expanduser()
    if not path.is_file():
        raise InvalidInput(f"no file at {path}", hint="pass the path of a file made by `nexus export`")
    if args.batch_size < 1:
        raise InvalidInput("--batch-size must be at least 1", hint="the default is 500")
    fmt = args.format or _guess_format(path)
    with app_from(args) as app:
        if fmt == "nexus":
            from nexus_memory.services.portability.importer import Importer, read_jsonl

            progress = Progress(f"importing {path.name}", path.stat().st_size, args.quiet)
            report = Importer(app.store, strict=args.strict, batch_size=args.batch_size,
                              progress=progress).run(read_jsonl(path))
            progress.done()
            _print_report(args, report.to_dict(), f"Imported {path.name}")
            return 0
        from nexus_memory.services.portability import foreign

        agent = args.agent or app.settings.default_agent
        fn = foreign.import_mcp_memory if fmt == "mcp-memory" else foreign.import_instructions
        result = fn(app.memories, path, agent=agent, strict=args.strict).to_dict()
        _print_report(args, result, f"Imported {path.name} ({fmt}) into {agent}")
        return 0


def _copy(args: argparse.Namespace, *, to_postgres: bool) -> int:
    from nexus_memory.cli.context import settings_from
    from nexus_memory.services.portability.migrate import copy_store

    settings = settings_from(args)
    source = _open(settings, postgres=not to_postgres)
    try:
        target = _open(settings, postgres=to_postgres)
    except BaseException:
        source.close()
        raise
    try:
        progress = Progress("migrating", None, args.quiet)
        report = copy_store(source, target, embeddings=not args.no_embeddings, progress=progress)
        progress.done()
    finally:
        source.close()
        target.close()
    title = "Copied SQLite into PostgreSQL" if to_postgres else "Copied PostgreSQL into SQLite"
    _print_report(args, report.to_dict(), title + " (counts verified)")
    return 0


def cmd_sqlite_to_postgres(args: argparse.Namespace) -> int:
    return _copy(args, to_postgres=True)


def cmd_postgres_to_sqlite(args: argparse.Namespace) -> int:
    return _copy(args, to_postgres=False)


def cmd_from_upstream(args: argparse.Namespace) -> int:
    from nexus_memory.cli.context import app_from
    from nexus_memory.services.portability.importer import Importer
    from nexus_memory.services.portability.upstream import UpstreamReader

    reader = UpstreamReader(Path(args.path).expanduser())
    try:
        counts = reader.counts()
        with app_from(args) as app:
            progress = Progress("importing upstream", None, args.quiet)
            report = Importer(app.store, strict=args.strict, redact=True, progress=progress,
                              unit="upstream record").run(reader.items())
            progress.done()
    finally:
        reader.close()
    data = {"import": report.to_dict(), "source": counts, "notes": reader.notes}
    _print_report(args, data, f"Imported upstream {args.path}")
    return 0
