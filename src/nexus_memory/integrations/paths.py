"""Where the hooks keep their state. Light on purpose: every hook process imports it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from nexus_memory.integrations.spool import Spool

if TYPE_CHECKING:
    from nexus_memory.config import Settings


class Paths:
    """Where the hooks keep their state: injected ids, transcript watermarks, seen texts, the spools."""

    def __init__(self, settings: Settings) -> None:
        root = settings.paths.state_dir / "hooks"
        self.injected = root / "injected"
        self.transcripts = root / "transcripts"
        self.seen = root / "seen"
        #: Each repository's key and git's answers about its branches (project/, issue 16).
        self.projects = root / "projects"
        self.log_dir = settings.paths.log_dir
        self.events = Spool(settings.paths.spool_dir, self.log_dir)
        self.work = Spool(settings.paths.spool_dir / "work", self.log_dir)
