"""The nap, the deep dream and the project refresh: what keeps `.nexus/` warm (reference 5.11, 5.16).

* refresh: promote the project's best memories (its working representation) into
  the hot cache and rewrite `.nexus/context.md` inside the token budget;
* nap (session end): drain jobs, merge the session scratch learnings
  (`.nexus/sessions/<sid>.md`, lines "- [confidence: 0.xx] text") into the hot
  cache, refresh, rename the scratch to `.merged.md`; merged files older than 7
  days are removed;
* deep dream (cooldown 24 h, after inactivity): drain every namespace, rebuild
  soul.md, prune archived raw activity older than 30 days.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from nexus_memory.cognition.cache import HotCache, HotCacheEntry, load_cold, load_hot, save_cold, save_hot
from nexus_memory.cognition.context import build_context, write_context
from nexus_memory.cognition.representation import WorkingRepresentation
from nexus_memory.domain.budget import estimate_window, for_model

_LEARNING = re.compile(r"^- \[confidence: ([^\]]+)\] (.+)$")
_SID = re.compile(r"^[^/\\]{1,128}$")
MERGED_RETENTION = timedelta(days=7)


def valid_session_id(sid: str) -> bool:
    return bool(_SID.match(sid)) and ".." not in sid


def scratch_path(project_root: Path, sid: str) -> Path:
    return project_root / ".nexus" / "sessions" / f"{sid}.md"


def parse_learnings(text: str) -> list[tuple[float, str]]:
    out = []
    for line in text.splitlines():
        m = _LEARNING.match(line.strip())
        if not m:
            continue
        try:
            conf = float(m.group(1))
        except ValueError:
            conf = 0.5
        conf = conf if conf == conf and abs(conf) != float("inf") else 0.5
        out.append((max(0.0, min(1.0, conf)), m.group(2).strip()))
    return out


def cleanup_merged(project_root: Path, now: datetime) -> int:
    folder = project_root / ".nexus" / "sessions"
    removed = 0
    if not folder.is_dir():
        return 0
    for path in folder.glob("*.merged.md"):
        try:
            if now.timestamp() - path.stat().st_mtime > MERGED_RETENTION.total_seconds():
                path.unlink()
                removed += 1
        except OSError:
            continue
    return removed


@dataclass
class RefreshResult:
    project_root: str
    hot_entries: int
    promoted: int
    context_path: str
    context_tokens: int
    merged_learnings: int = 0
    errors: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"project_root": self.project_root, "hot_entries": self.hot_entries, "promoted": self.promoted,
                "context_path": self.context_path, "context_tokens": self.context_tokens,
                "merged_learnings": self.merged_learnings, "errors": self.errors}


def refresh_project(project_root: Path, rep: WorkingRepresentation, *, agent: str, max_entries: int,
                    allocation_pct: float, now: datetime, session_id: str | None = None) -> RefreshResult:
    cache = load_hot(project_root)
    merged = 0
    if session_id and valid_session_id(session_id):
        scratch = scratch_path(project_root, session_id)
        if scratch.is_file():
            for i, (conf, text) in enumerate(parse_learnings(scratch.read_text(encoding="utf-8"))):
                # Session learnings have no memory id: a stable negative id per (session, line).
                mid = -(zlib.crc32(f"{session_id}|{i}|{text}".encode()) % 10**9) - 1
                if cache.promote(HotCacheEntry.new(mid, text, conf, now, source_agent=agent), max_entries, now):
                    merged += 1
            scratch.rename(scratch.with_name(f"{session_id}.merged.md"))
        cache.last_session_id = session_id
    promoted = 0
    for item in rep.items()[:max_entries]:
        score = max(0.0, min(1.0, item.score))
        if cache.promote(HotCacheEntry.new(item.memory.id, item.memory.content, score, now,
                                           source_agent=item.memory.agent), max_entries, now):
            promoted += 1
    save_hot(project_root, cache)
    hot_ids = {e.memory_id for e in cache.entries}
    cold = [{"memory_id": i.memory.id, "project_relevance": round(max(0.0, i.score), 4), "last_surfaced": None}
            for i in rep.items() if i.memory.id not in hot_ids]
    save_cold(project_root, cold, now)
    budget = for_model(estimate_window(agent), allocation_pct).context
    recalls = [(i.memory.id, i.memory.content) for i in rep.items() if i.memory.id not in hot_ids][:10]
    text = build_context(cache, budget, recalls)
    path = write_context(project_root, text)
    cleanup_merged(project_root, now)
    return RefreshResult(str(project_root), len(cache.entries), promoted, str(path), len(text) // 4, merged)


@dataclass
class CacheStatus:
    """A project's hot and cold cache and its context.md, at a glance."""

    project_root: str
    hot_entries: int
    tiers: dict[str, int]
    cold_entries: int
    last_updated: str | None
    last_session_id: str | None
    context_md: str | None  # its path, when it exists

    def to_dict(self) -> dict[str, Any]:
        return {"project_root": self.project_root, "hot_entries": self.hot_entries, "tiers": self.tiers,
                "cold_entries": self.cold_entries, "last_updated": self.last_updated,
                "last_session_id": self.last_session_id, "context_md": self.context_md}


def cache_status(project_root: Path) -> CacheStatus:
    hot: HotCache = load_hot(project_root)
    cold = load_cold(project_root)
    tiers: dict[str, int] = {}
    for e in hot.entries:
        tiers[e.tier] = tiers.get(e.tier, 0) + 1
    context = project_root / ".nexus" / "context.md"
    return CacheStatus(str(project_root), len(hot.entries), tiers, len(cold.get("entries") or []), hot.last_updated,
                       hot.last_session_id, str(context) if context.exists() else None)


DrainAll = Callable[[], int]
