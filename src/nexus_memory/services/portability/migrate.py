"""Copy one store into another (SQLite <-> PostgreSQL) and verify the counts."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from nexus_memory.domain.models import MemoryFilter
from nexus_memory.errors import StorageError
from nexus_memory.services.portability.exporter import bulk, export_records
from nexus_memory.services.portability.importer import Importer, ImportReport, Item
from nexus_memory.storage.base import Store, VectorIndex

_ALL = MemoryFilter(include_raw=True, include_archived=True, include_inactive=True, include_bookkeeping=True)


@dataclass
class MigrationReport:
    source: dict[str, int]
    target: dict[str, int]
    imported: ImportReport

    def to_dict(self) -> dict[str, Any]:
        return {"source": self.source, "target": self.target, "import": self.imported.to_dict(),
                "verified": True}


def table_counts(store: Store) -> dict[str, int]:
    reader = bulk(store)

    def _count(fetch: Any) -> int:
        n, after = 0, 0
        while page := fetch(after_id=after, limit=5000):
            n += len(page)
            after = page[-1].id
        return n

    return {
        "namespaces": len(store.list_namespaces()),
        "memories": store.count(_ALL),
        "relations": _count(reader.relations_page),
        "evidence": _count(reader.evidence_page),
        "digests": _count(reader.digests_page),
    }


def copy_store(source: Store, target: Store, *, embeddings: bool = True,
               progress: Callable[[ImportReport], None] | None = None) -> MigrationReport:
    """Every record of `source` into `target` (idempotent), then check nothing is missing.

    Each source memory must be in the target afterwards (created, merged into an
    equal active memory, or already there), and every link must have been written.
    """
    before = table_counts(source)

    def items() -> Any:
        for n, rec in enumerate(export_records(source, embeddings=embeddings), start=1):
            item: Item = (n, rec, 0)
            yield item

    report = Importer(target, strict=True, progress=progress).run(items())
    build = getattr(target, "ensure_vector_index", None)  # PostgreSQL: index once after the bulk load
    if build is not None and isinstance(target, VectorIndex):
        for model in target.vector_counts():
            build(model)
    after = table_counts(target)
    mapped = report.created + report.merged + report.unchanged
    problems = []
    if mapped != before["memories"]:
        problems.append(f"{before['memories'] - mapped} of {before['memories']} memories did not arrive")
    if report.unresolved:
        problems.append(f"{report.unresolved} relations/evidence/digests lost their memories")
    for key in ("memories", "relations", "evidence", "digests"):
        if after[key] < before[key] - (report.merged if key == "memories" else 0):
            problems.append(f"the target has {after[key]} {key}, the source {before[key]}")
    if problems:
        raise StorageError("migration check failed: " + "; ".join(problems),
                           hint="run the same command again (it is idempotent) and report the problem if it stays")
    return MigrationReport(before, after, report)
