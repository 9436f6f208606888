"""Building the App for a command from its global flags."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from nexus_memory.app import App
    from nexus_memory.config import Settings


def settings_from(args: argparse.Namespace) -> Settings:
    from nexus_memory.config import load_settings

    return load_settings(
        database_path=getattr(args, "db", None),
        database_url=getattr(args, "database_url", None),
    )


def app_from(args: argparse.Namespace, *, existing: bool = False) -> App:
    """`existing`: a command that only reads (or changes memories that must already exist) refuses a
    SQLite file named with --db or NEXUS_DATABASE_PATH that is not there, instead of creating folders
    and an empty database at a mistyped path. The default database is simply created on first use."""
    from nexus_memory.app import build_app

    settings = settings_from(args)
    named = settings.database_path != settings.paths.data_dir / "nexus.db"
    if existing and named and not settings.database_url and not settings.database_path.exists():
        from nexus_memory.errors import NotFound

        raise NotFound(f"no database at {settings.database_path}",
                       hint="check --db / NEXUS_DATABASE_PATH, or create it with `nexus init` or `nexus store`")
    return build_app(settings)
