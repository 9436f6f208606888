"""Memory decay housekeeping: old episodes that distillation went through are deleted after 90 days.

An episode (raw hook activity) is the record of what happened; distillation extracts its facts into
derived memories that stay. Past the retention age the episode itself goes. Episodes archived by
an earlier version (replaced by a summary) go after the same age.

Ranking-time decay (old, unused memories lose up to 0.15) lives in domain/ranking.py.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from nexus_memory.domain.enums import CognitiveLevel
from nexus_memory.domain.models import AgentNamespace, MemoryFilter
from nexus_memory.storage.base import Store

PRUNE_AFTER = timedelta(days=90)
PRUNE_LIMIT = 500


def prune_archived_raw(store: Store, ns: AgentNamespace, now: datetime, *, limit: int = PRUNE_LIMIT) -> int:
    """Delete up to `limit` raw memories older than 90 days that were distilled (or replaced by a summary)."""
    rows = store.list_memories(
        MemoryFilter(agents=(ns.name,), levels=(CognitiveLevel.RAW,), include_raw=True, include_archived=True,
                     include_inactive=True, until=now - PRUNE_AFTER),
        limit=limit * 2, order="oldest")
    deleted = 0
    for m in rows:
        dist = m.metadata.get("distillation")
        raw = m.metadata.get("raw_activity")
        distilled = isinstance(raw, dict) and raw.get("distill_pending") is False
        replaced = m.is_archived and isinstance(dist, dict) and dist.get("summary_memory_id")
        if not (distilled or replaced):
            continue
        if store.delete(m.id):
            deleted += 1
        if deleted >= limit:
            break
    return deleted
