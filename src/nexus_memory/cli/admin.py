"""init and config."""

from __future__ import annotations

import argparse
from typing import Any

COMMANDS = ("init", "config")


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("init", parents=[common], help="create or migrate the database")
    p.add_argument("-r", "--reset", action="store_true", help="delete the database first (asks to confirm)")
    p.add_argument("-y", "--yes", action="store_true", help="do not ask for confirmation")
    p.set_defaults(handler=cmd_init)

    config = sub.add_parser("config", help="show the effective configuration")
    csub = config.add_subparsers(dest="config_command", metavar="ACTION")
    p = csub.add_parser("show", parents=[common], help="print the effective settings (no secrets)")
    p.set_defaults(handler=cmd_config_show)
    config.set_defaults(handler=lambda a: (config.print_help(), 2)[1])


def cmd_init(args: argparse.Namespace) -> int:
    from nexus_memory.cli.context import settings_from
    from nexus_memory.cli.output import confirm, emit_json
    from nexus_memory.errors import InvalidInput

    settings = settings_from(args)
    if settings.database_url:
        from nexus_memory.app import open_store

        store = open_store(settings)
        store.close()
        if args.json:
            emit_json({"backend": "postgres", "ready": True})
        else:
            print("PostgreSQL database ready")
        return 0
    path = settings.database_path
    if args.reset and path.exists():
        if not args.yes and not confirm(f"Delete every memory in {path}?"):
            raise InvalidInput("reset not confirmed; nothing was deleted", hint="pass --yes to reset without asking")
        for suffix in ("", "-wal", "-shm"):
            target = path.with_name(path.name + suffix)
            if target.exists():
                target.unlink()
        snapshots = path.with_name(path.name + ".vectors")  # cached vector matrices (docs/search.md)
        if snapshots.is_dir():
            import shutil

            shutil.rmtree(snapshots, ignore_errors=True)
    from nexus_memory.storage.sqlite import SQLiteStore

    store = SQLiteStore(path, busy_timeout_ms=settings.busy_timeout_ms)
    try:
        applied = store.applied_migrations()
        check = store.check_integrity()
    finally:
        store.close()
    if args.json:
        emit_json({"backend": "sqlite", "database_path": str(path), "migrations": applied, "integrity": check})
    else:
        print(f"Database ready at {path} ({len(applied)} migrations, integrity {check})")
    return 0


def cmd_config_show(args: argparse.Namespace) -> int:
    from nexus_memory.cli.context import settings_from
    from nexus_memory.cli.output import emit_json

    settings = settings_from(args)
    data = settings.public_dict()
    if args.json:
        emit_json(data)
        return 0
    for key, value in data.items():
        if isinstance(value, dict):
            print(f"{key}:")
            for k, v in value.items():
                print(f"  {k} = {v}")
        else:
            print(f"{key} = {value}")
    return 0
