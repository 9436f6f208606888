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


def app_from(args: argparse.Namespace) -> App:
    from nexus_memory.app import build_app

    return build_app(settings_from(args))
