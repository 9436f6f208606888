"""Entry point: parse, dispatch, and map errors to one line and an exit code.

Exit codes: 0 ok, 1 an error with a one-line message, 2 usage, 130 interrupted.
Never a traceback (set NEXUS_DEBUG=1 to see one for an internal error).
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence
from typing import Any

# Each module registers its commands; keep their top-level imports light. A module may
# also declare `COMMANDS` (the top-level names it registers): `nexus <command>` then
# builds only that module's parsers, which is a large share of a cold start.
COMMAND_MODULES = (
    "nexus_memory.cli.memory",
    "nexus_memory.cli.session",
    "nexus_memory.cli.admin",
    "nexus_memory.cli.hooks",
    "nexus_memory.cli.cognition",
    "nexus_memory.cli.embeddings",
    "nexus_memory.cli.serve",
    "nexus_memory.cli.portability",
    "nexus_memory.cli.code",
)


_WIDTH: list[int] = []


class _Formatter(argparse.HelpFormatter):
    """argparse asks the terminal for its size on every add_argument; ask once per process."""

    def __init__(self, prog: str, indent_increment: int = 2, max_help_position: int = 24,
                 width: int | None = None) -> None:
        if width is None:
            if not _WIDTH:  # like shutil.get_terminal_size, without importing shutil (and bz2, lzma)
                try:
                    columns = int(os.environ["COLUMNS"])
                except (KeyError, ValueError):
                    try:
                        columns = os.get_terminal_size(sys.stdout.fileno()).columns
                    except (OSError, ValueError):
                        columns = 80
                _WIDTH.append(max(columns, 20) - 2)
            width = _WIDTH[0]
        super().__init__(prog, indent_increment, max_help_position, width)


class _Parser(argparse.ArgumentParser):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", _Formatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        if len(message) > 300:  # argparse quotes the bad value whole (a 5000-digit id)
            message = message[:300] + "…"
        sys.stderr.write(f"nexus: usage error: {message} (see `{self.prog} --help`)\n")
        raise SystemExit(2)


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The whole parser; or, for a `command` some module declares, just that module's part."""
    from nexus_memory import __version__

    parser = _Parser(
        prog="nexus",
        description="Nexus Memory: one local memory shared by every AI coding agent.",
    )
    parser.add_argument("--version", action="version", version=f"nexus {__version__}")
    common = _Parser(add_help=False)
    common.add_argument("--json", action="store_true", help="print machine-readable JSON")
    common.add_argument("--db", metavar="PATH", help="SQLite database file (default: NEXUS_DATABASE_PATH or the data dir)")
    common.add_argument("--database-url", metavar="URL", help="PostgreSQL URL (default: NEXUS_DATABASE_URL)")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for module in _modules_for(command):
        module.register(subparsers, common)
    return parser


def _modules_for(command: str | None) -> list[Any]:
    """The one module declaring `command` (importing no module after it), else all of them."""
    loaded = []
    for name in COMMAND_MODULES:
        module = importlib.import_module(name)
        if command is not None and command in getattr(module, "COMMANDS", ()):
            return [module]
        loaded.append(module)
    return loaded


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    if args_list[:1] == ["hook"] and not {"-h", "--help"} & set(args_list):
        # The agent hook path: skip building the whole parser (every command module) and fail open.
        from nexus_memory.cli.hooks import hook_main

        return hook_main(args_list[1:])
    from nexus_memory.errors import NexusError

    arglist = list(sys.argv[1:] if argv is None else argv)
    bad = _not_utf8(arglist)
    if bad is not None:
        sys.stderr.write(f"nexus: error: argument {bad} is not valid UTF-8 text (pass the text in UTF-8, e.g. "
                         "convert it with iconv)\n")
        return 2
    parser = build_parser(arglist[0] if arglist and not arglist[0].startswith("-") else None)
    args = parser.parse_args(arglist)
    handler = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return 2
    try:
        result = handler(args)
        return int(result or 0)
    except NexusError as exc:
        sys.stderr.write(f"nexus: error: {exc.one_line()}\n")
        return exc.exit_code
    except KeyboardInterrupt:
        sys.stderr.write("nexus: interrupted\n")
        return 130
    except BrokenPipeError:
        return 0
    except RecursionError:
        sys.stderr.write("nexus: error: the input is nested too deeply to read (flatten the JSON you passed)\n")
        return 1
    except MemoryError:
        sys.stderr.write("nexus: error: not enough memory for this input (pass a smaller one)\n")
        return 1
    except OSError as exc:  # a file or device the command was pointed at
        where = f" ({exc.filename})" if getattr(exc, "filename", None) else ""
        sys.stderr.write(f"nexus: error: {exc.strerror or exc}{where} (check the path, its permissions and free "
                         "space)\n")
        return 1
    except Exception as exc:  # the last line of defence: one line, no traceback
        if os.environ.get("NEXUS_DEBUG"):
            raise
        sys.stderr.write(
            f"nexus: internal error: {type(exc).__name__}: {exc} "
            "(rerun with NEXUS_DEBUG=1 for details and please report it)\n"
        )
        return 1


def _not_utf8(args: Sequence[str]) -> int | None:
    """The 1-based position of an argument that was not UTF-8 (Python keeps such bytes as surrogates)."""
    for i, arg in enumerate(args, 1):
        try:
            arg.encode("utf-8")
        except UnicodeEncodeError:
            return i
    return None


def run() -> None:
    """The `nexus` console script: `main`, then a quick exit (see `entry.quick_exit`)."""
    from nexus_memory.cli.entry import private_files, quick_exit

    private_files()
    quick_exit(main())

if __name__ == "__main__":  # pragma: no cover
    run()
