"""Export a store as Nexus export records (format version 1), streaming, in keyset pages."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

from nexus_memory.domain.models import MemoryFilter
from nexus_memory.domain.timeutil import to_iso
from nexus_memory.errors import NotAvailable
from nexus_memory.services.portability.records import (
    digest_record,
    evidence_record,
    header,
    memory_record,
    namespace_record,
    relation_record,
)
from nexus_memory.storage.base import BulkReader, Store

PAGE = 500


def bulk(store: Store) -> BulkReader:
    if not isinstance(store, BulkReader):
        raise NotAvailable(f"the {getattr(store, 'backend', 'configured')} backend cannot export",
                           hint="export from the SQLite or PostgreSQL backend")
    return store


def export_records(
    store: Store,
    *,
    agents: Sequence[str] | None = None,
    since: datetime | None = None,
    embeddings: bool = False,
) -> Iterator[dict[str, Any]]:
    """Header, namespaces, memories, then relations, evidence and digests among the
    exported memories, then an `end` record with the counts (a truncated file lacks it)."""
    reader = bulk(store)
    counts = {"namespace": 0, "memory": 0, "relation": 0, "evidence": 0, "digest": 0}
    filters: dict[str, Any] = {"agents": list(agents) if agents else None,
                               "since": to_iso(since) if since else None, "embeddings": embeddings}
    yield header({"backend": getattr(store, "backend", "unknown")}, filters)
    wanted = set(agents) if agents else None
    names: dict[int, str] = {}
    for ns in store.list_namespaces():
        names[ns.id] = ns.name
        if wanted is None or ns.name in wanted:
            counts["namespace"] += 1
            yield namespace_record(ns)
    flt = MemoryFilter(agents=tuple(agents) if agents else None, since=since, include_raw=True, include_bookkeeping=True,
                       include_archived=True, include_inactive=True)
    exported: set[int] = set()
    after = 0
    while True:
        page = reader.memories_page(flt, after_id=after, limit=PAGE)
        if not page:
            break
        vectors = reader.vectors_of([m.id for m in page]) if embeddings else {}
        for memory in page:
            exported.add(memory.id)
            counts["memory"] += 1
            yield memory_record(memory, vectors.get(memory.id))
        after = page[-1].id
    for rel in _pages(reader.relations_page):
        if rel.source_memory_id in exported and rel.target_memory_id in exported:
            counts["relation"] += 1
            yield relation_record(rel)
    for ev in _pages(reader.evidence_page):
        if ev.derived_memory_id in exported and ev.source_memory_id in exported:
            counts["evidence"] += 1
            yield evidence_record(ev)
    for dg in _pages(reader.digests_page):
        if dg.memory_id in exported:
            counts["digest"] += 1
            yield digest_record(dg, names.get(dg.namespace_id, str(dg.namespace_id)))
    yield {"type": "end", "counts": counts}


def _pages(fetch: Any) -> Iterator[Any]:
    after = 0
    while True:
        page = fetch(after_id=after, limit=1000)
        if not page:
            return
        yield from page
        after = page[-1].id
