"""Memory decay housekeeping: archived raw activity that a summary replaced is deleted after 30 days.

Ranking-time decay (old, unused memories lose up to 0.15) lives in domain/ranking.py.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from nexus_memory.domain.enums import CognitiveLevel
from nexus_memory.domain.models import AgentNamespace, MemoryFilter
from nexus_memory.storage.base import Store

PRUNE_AFTER = timedelta(days=30)
PRUNE_LIMIT = 500


def prune_archived_raw(store: Store, ns: AgentNamespace, now: datetime, *, limit: int = PRUNE_LIMIT) -> int:
    """Delete up to `limit` archived raw memories older than 30 days that have a distillation summary."""
    rows = store.list_memories(
        MemoryFilter(agents=(ns.name,), levels=(CognitiveLevel.RAW,), include_raw=True, include_archived=True,
                     include_inactive=True, until=now - PRUNE_AFTER),
        limit=limit * 2, order="oldest")
    deleted = 0
    for m in rows:
        dist = m.metadata.get("distillation")
        if not m.is_archived or not isinstance(dist, dict) or not dist.get("summary_memory_id"):
            continue
        if store.delete(m.id):
            deleted += 1
        if deleted >= limit:
            break
    return deleted
