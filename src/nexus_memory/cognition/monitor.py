"""The activity monitor (reference 5.12): when the user is active, their sleep hour, and deep-dream timing."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from nexus_memory.cognition.files import read_json, write_json
from nexus_memory.domain.timeutil import from_iso, to_iso

RETENTION = timedelta(days=7)
MIN_SAMPLES = 14
DEFAULT_COOLDOWN_SECS = 24 * 3600


def _slot(moment: datetime) -> datetime:
    return moment.replace(minute=moment.minute - moment.minute % 10, second=0, microsecond=0)


@dataclass
class ActivityMonitor:
    path: Path
    activity_log: list[str] = field(default_factory=list)
    last_deep_dream: str | None = None
    deep_dream_cooldown: int = DEFAULT_COOLDOWN_SECS
    inactivity_mins: int = 30

    @classmethod
    def load(cls, path: Path, cooldown_secs: int = DEFAULT_COOLDOWN_SECS, inactivity_mins: int = 30
             ) -> ActivityMonitor:
        data = read_json(path) or {}
        log = [str(x) for x in data.get("activity_log") or [] if from_iso(str(x))]
        return cls(path, log, data.get("last_deep_dream"), int(data.get("deep_dream_cooldown") or cooldown_secs),
                   inactivity_mins)

    def save(self) -> None:
        write_json(self.path, self.to_dict())

    def to_dict(self) -> dict[str, Any]:
        return {"activity_log": self.activity_log, "detected_sleep_hour": self.sleep_hour(),
                "last_deep_dream": self.last_deep_dream, "deep_dream_cooldown": self.deep_dream_cooldown}

    def record(self, now: datetime) -> None:
        """Add the current 10-minute slot (deduplicated) and drop slots older than 7 days."""
        newest = max([now, *(t for t in (from_iso(s) for s in self.activity_log) if t is not None)])
        cutoff = newest - RETENTION
        kept = {s for s in self.activity_log if (from_iso(s) or now) >= cutoff}
        if now >= cutoff:
            kept.add(to_iso(_slot(now)))
        self.activity_log = sorted(kept)

    def record_activity(self, now: datetime) -> None:
        """Reload from disk first so concurrent hook processes do not clobber each other."""
        fresh = ActivityMonitor.load(self.path, self.deep_dream_cooldown, self.inactivity_mins)
        self.activity_log, self.last_deep_dream = fresh.activity_log, fresh.last_deep_dream
        self.record(now)
        self.save()

    def sleep_hour(self) -> int | None:
        """The UTC hour with the fewest activity samples (ties: the earliest); needs >= 14 samples."""
        if len(self.activity_log) < MIN_SAMPLES:
            return None
        counts = Counter((from_iso(s) or datetime.min).hour for s in self.activity_log)
        return min(range(24), key=lambda h: (counts.get(h, 0), h))

    def last_activity(self) -> datetime | None:
        return from_iso(self.activity_log[-1]) if self.activity_log else None

    def should_deep_dream(self, now: datetime) -> bool:
        last = from_iso(self.last_deep_dream) if self.last_deep_dream else None
        if last is not None and (now - last).total_seconds() < self.deep_dream_cooldown:
            return False
        active = self.last_activity()
        idle = (now - active).total_seconds() / 60 if active else float("inf")
        sleep = self.sleep_hour()
        near_sleep = sleep is not None and min(abs(now.hour - sleep), 24 - abs(now.hour - sleep)) <= 2
        return idle >= (min(10, self.inactivity_mins) if near_sleep else self.inactivity_mins)

    def mark_deep_dream(self, now: datetime) -> None:
        self.last_deep_dream = to_iso(now)
