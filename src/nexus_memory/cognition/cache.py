"""The per-project cognitive cache (reference 5.13): `.nexus/cache/hot.json` and `cold_index.json`.

Tiers from the relevance score: Loud >= 0.85, Clear >= 0.72, else Whisper. The hot
cache is bounded (`hot_cache_max_entries`, default 20); when full, the unpinned
entry with the lowest eviction score goes:
relevance x max(ln(hot_streak), 1) / exp(seconds since surfaced / 86400).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from nexus_memory.cognition.files import read_json, write_json
from nexus_memory.domain.enums import ConfidenceTier
from nexus_memory.domain.timeutil import from_iso, to_iso, utcnow

COLD_MAX_ENTRIES = 500


def cache_dir(project_root: Path) -> Path:
    return project_root / ".nexus" / "cache"


@dataclass
class HotCacheEntry:
    memory_id: int
    content: str
    relevance_score: float
    tier: str
    promoted_at: str
    last_surfaced: str
    hot_streak: int = 1
    pinned: bool = False
    source_agent: str | None = None

    @classmethod
    def new(cls, memory_id: int, content: str, score: float, now: datetime, *, source_agent: str | None = None,
            pinned: bool = False) -> HotCacheEntry:
        score = max(0.0, min(1.0, float(score)))
        return cls(memory_id, content, round(score, 4), ConfidenceTier.from_score(score).value, to_iso(now),
                   to_iso(now), 1, pinned, source_agent)

    def eviction_score(self, now: datetime) -> float:
        if self.pinned:
            return math.inf
        surfaced = from_iso(self.last_surfaced) or now
        age = max(0.0, (now - surfaced).total_seconds())
        return self.relevance_score * max(math.log(max(self.hot_streak, 1)), 1.0) / math.exp(age / 86400.0)


@dataclass
class HotCache:
    entries: list[HotCacheEntry] = field(default_factory=list)
    last_updated: str | None = None
    last_session_id: str | None = None

    def promote(self, entry: HotCacheEntry, max_entries: int, now: datetime | None = None) -> bool:
        """Add or refresh an entry; False when it could not get a place (everything pinned)."""
        moment = now or utcnow()
        for existing in self.entries:
            if existing.memory_id == entry.memory_id:
                existing.content = entry.content
                existing.relevance_score = entry.relevance_score
                existing.tier = entry.tier
                existing.hot_streak += 1
                existing.last_surfaced = to_iso(moment)
                existing.pinned = existing.pinned or entry.pinned
                self.last_updated = to_iso(moment)
                return True
        if len(self.entries) >= max(1, max_entries):
            candidates = [e for e in self.entries if not e.pinned]
            if not candidates:
                if not entry.pinned:
                    return False
            else:
                self.entries.remove(min(candidates, key=lambda e: e.eviction_score(moment)))
        self.entries.append(entry)
        self.last_updated = to_iso(moment)
        return True

    def by_relevance(self) -> list[HotCacheEntry]:
        return sorted(self.entries, key=lambda e: (-e.relevance_score, e.memory_id))

    def to_dict(self) -> dict[str, Any]:
        return {"entries": [asdict(e) for e in self.entries], "last_updated": self.last_updated,
                "last_session_id": self.last_session_id}

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> HotCache:
        if not data:
            return cls()
        entries = []
        for raw in data.get("entries") or []:
            try:
                entries.append(HotCacheEntry(**{k: raw[k] for k in HotCacheEntry.__dataclass_fields__ if k in raw}))
            except (TypeError, KeyError):
                continue
        return cls(entries, data.get("last_updated"), data.get("last_session_id"))


def load_hot(project_root: Path) -> HotCache:
    return HotCache.from_dict(read_json(cache_dir(project_root) / "hot.json"))


def save_hot(project_root: Path, cache: HotCache) -> None:
    write_json(cache_dir(project_root) / "hot.json", cache.to_dict())


def load_cold(project_root: Path) -> dict[str, Any]:
    return read_json(cache_dir(project_root) / "cold_index.json") or {"entries": [], "last_reindexed": None}


def save_cold(project_root: Path, entries: list[dict[str, Any]], now: datetime) -> None:
    write_json(cache_dir(project_root) / "cold_index.json",
               {"entries": entries[:COLD_MAX_ENTRIES], "last_reindexed": to_iso(now)})
