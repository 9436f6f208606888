"""The memory queries both backends share: columns, rows in and out, filters, sort orders.

- A new column of `memories` is one edit here (plus a migration per backend): it is read
  through MEMORY_COLUMNS and `row_to_memory`, and written through NEW_COLUMNS and
  `new_memory_row`, which both backends' dedup-on-store paths use.
- A new filter is a field of `MemoryFilter` and one clause in `filter_sql`.
- A new sort order is one entry in `orders`.

Where the two databases word a clause differently, the clause asks the dialect
(`d.label_match`, `d.in_list`, `d.json_number`, ...).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from nexus_memory.domain.enums import JobStatus, MemoryCategory, MemoryLaneType
from nexus_memory.domain.models import AgentNamespace, Memory, MemoryFilter, NewMemory
from nexus_memory.errors import InvalidInput
from nexus_memory.storage.common import content_hash, derived_columns, merge_labels
from nexus_memory.storage.sql.dialect import Dialect

if TYPE_CHECKING:  # built on first use (domain/records.py)
    from nexus_memory.domain.records import Evidence, Job, MemoryRelation, SessionDigest

MEMORY_COLUMNS = (
    "m.id, m.namespace_id, m.content, m.context, m.category, m.memory_lane_type, m.labels, m.metadata, "
    "m.session_key, m.similarity_score, m.relevance_score, m.embedding_model, m.created_at, m.updated_at, "
    "m.last_accessed, m.is_active, m.is_archived, m.access_count, n.name AS agent"
)
FROM = "FROM memories m JOIN agent_namespaces n ON n.id = m.namespace_id"

#: The columns a new memory is inserted with (besides an explicit id), in `new_memory_row`
#: order, each with its PostgreSQL type (a batch binds each column as one array).
NEW_COLUMNS = (
    ("namespace_id", "bigint"), ("content", "text"), ("content_hash", "text"), ("context", "text"),
    ("category", "text"), ("memory_lane_type", "text"), ("labels", "jsonb"), ("metadata", "jsonb"),
    ("level", "text"), ("session_key", "text"), ("is_raw", "boolean"), ("is_bookkeeping", "boolean"),
    ("project", "text"), ("times_reinforced", "integer"), ("times_contradicted", "integer"),
    ("created_at", "timestamptz"), ("updated_at", "timestamptz"), ("is_active", "boolean"), ("is_archived", "boolean"),
)
NEW_NAMES = ", ".join(name for name, _ in NEW_COLUMNS)
NEW_MARKS = ", ".join("?" * len(NEW_COLUMNS))
#: Where `new_memory_row` puts the namespace id and the content hash (the dedup key).
NS_AT, HASH_AT = 0, 2


def check_content(new: NewMemory) -> None:
    if not new.content.strip():
        raise InvalidInput("the memory content is empty", hint="pass some text to store")


def new_memory_row(new: NewMemory, namespace_id: int, d: Dialect, now: datetime, *,
                   digest: str | None = None, stamp: Any = None) -> tuple[Any, ...]:
    """The NEW_COLUMNS values of a memory to insert (labels merged, derived columns filled).

    A caller that already has the content hash or `now` in the dialect's form passes them
    (`digest`, `stamp`): each costs microseconds per memory on a bulk store."""
    check_content(new)
    labels = merge_labels([], new.labels)
    derived = derived_columns(labels, new.metadata)
    if stamp is None:
        stamp = d.time(now)
    return (
        namespace_id, new.content, digest or content_hash(new.content), new.context, new.category.value,
        new.memory_lane_type.value if new.memory_lane_type else None, d.json(labels), d.json(new.metadata),
        derived["level"], derived["session_key"] or new.session_key, d.boolean(derived["is_raw"]),
        d.boolean(derived["is_bookkeeping"]), derived["project"], derived["times_reinforced"],
        derived["times_contradicted"],
        d.time(new.created_at) if new.created_at else stamp, stamp,
        d.boolean(new.is_active), d.boolean(new.is_archived),
    )


def row_to_memory(row: Mapping[str, Any], d: Dialect) -> Memory:
    return Memory(
        id=int(row["id"]),
        namespace_id=int(row["namespace_id"]),
        content=row["content"],
        category=MemoryCategory.from_db(row["category"]),
        memory_lane_type=MemoryLaneType.from_db(row["memory_lane_type"]),
        labels=tuple(d.json_list(row["labels"])),
        metadata=d.json_obj(row["metadata"]),
        created_at=d.time_out(row["created_at"]),
        updated_at=d.time_out(row["updated_at"]),
        last_accessed=d.time_out(row["last_accessed"]),
        is_active=bool(row["is_active"]),
        is_archived=bool(row["is_archived"]),
        access_count=row["access_count"] or 0,
        similarity_score=row["similarity_score"],
        relevance_score=row["relevance_score"],
        embedding_model=row["embedding_model"],
        context=row["context"],
        agent=row["agent"],
        session_key=row["session_key"],
    )


def row_to_namespace(row: Mapping[str, Any] | None, d: Dialect) -> AgentNamespace | None:
    if row is None:
        return None
    return AgentNamespace(
        id=int(row["id"]), name=row["name"], agent_type=row["agent_type"], description=row["description"],
        created_at=d.time_out(row["created_at"]), updated_at=d.time_out(row["updated_at"]),
    )


def row_to_relation(row: Mapping[str, Any], d: Dialect) -> MemoryRelation:
    from nexus_memory.domain.records import MemoryRelation

    return MemoryRelation(
        id=int(row["id"]), source_memory_id=int(row["source_memory_id"]),
        target_memory_id=int(row["target_memory_id"]), relation_type=row["relation_type"],
        strength=row["strength"], metadata=d.json_obj(row["metadata"]) if row["metadata"] is not None else None,
        created_at=d.time_out(row["created_at"]),
    )


def row_to_evidence(row: Mapping[str, Any], d: Dialect) -> Evidence:
    from nexus_memory.domain.records import Evidence

    return Evidence(
        id=int(row["id"]), derived_memory_id=int(row["derived_memory_id"]),
        source_memory_id=int(row["source_memory_id"]), evidence_role=row["evidence_role"],
        created_at=d.time_out(row["created_at"]),
    )


def row_to_digest(row: Mapping[str, Any], d: Dialect) -> SessionDigest:
    from nexus_memory.domain.records import SessionDigest

    return SessionDigest(
        id=int(row["id"]), namespace_id=int(row["namespace_id"]), session_key=row["session_key"],
        digest_kind=row["digest_kind"], memory_id=int(row["memory_id"]), start_memory_id=row["start_memory_id"],
        end_memory_id=row["end_memory_id"], token_count=row["token_count"], created_at=d.time_out(row["created_at"]),
    )


def row_to_job(row: Mapping[str, Any], d: Dialect) -> Job:
    from nexus_memory.domain.records import Job

    perspective = row["perspective_json"]
    return Job(
        id=int(row["id"]), namespace_id=int(row["namespace_id"]), job_type=row["job_type"],
        status=JobStatus(row["status"]), priority=row["priority"], payload=d.json_obj(row["payload_json"]),
        perspective=d.json_obj(perspective) if perspective is not None else None,
        lease_owner=row["lease_owner"], claim_token=row["claim_token"],
        lease_expires_at=d.time_out(row["lease_expires_at"]), attempts=row["attempts"],
        last_error=row["last_error"], created_at=d.time_out(row["created_at"]),
        updated_at=d.time_out(row["updated_at"]),
    )


def filter_sql(flt: MemoryFilter, d: Dialect) -> tuple[str, list[Any]]:
    """WHERE clause (without the keyword) over aliases `m` (memories) and `n` (namespaces),
    in the driver's placeholder style, and its parameters.

    The default terms (active, not archived, not raw, not bookkeeping) must stay word for word
    the WHERE of the partial index `idx_memories_visible` (migration 0040), or counts read every
    row.
    """
    where: list[str] = []
    params: list[Any] = []

    def one_of(column: str, values: Sequence[Any]) -> None:
        sql, values_params = d.in_list(column, values)
        where.append(sql)
        params.extend(values_params)

    if not flt.include_inactive:
        where.append(d.is_true("m.is_active"))
    if not flt.include_archived:
        where.append(d.is_false("m.is_archived"))
    if not flt.include_raw:
        where.append(d.is_false("m.is_raw"))
    if not flt.include_bookkeeping:
        where.append(d.is_false("m.is_bookkeeping"))
    if flt.projects is not None:
        roots = [p for p in flt.projects if p]
        parts = []
        if roots:
            sql, root_params = d.in_list("m.project", roots)
            parts.append(sql)
            params.extend(root_params)
        if None in flt.projects:
            parts.append("m.project IS NULL")
        where.append("(" + " OR ".join(parts) + ")" if parts else d.never)
    if flt.agents is not None:
        if not flt.agents:
            where.append(d.never)
        else:
            one_of("n.name", list(flt.agents))
    if flt.categories:
        one_of("m.category", [c.value for c in flt.categories])
    if flt.lanes:
        one_of("m.memory_lane_type", [lane.value for lane in flt.lanes])
    if flt.levels:
        one_of("m.level", [lv.value for lv in flt.levels])
    if flt.ids is not None:
        if not flt.ids:
            where.append(d.never)
        else:
            one_of("m.id", [int(i) for i in flt.ids])
    for label in flt.labels or ():
        where.append(d.label_match)
        params.append(label)
    if flt.session_key:
        where.append(f"(m.session_key = ? OR {d.session_key_match})")
        params.extend([flt.session_key, flt.session_key])
    if flt.since:
        where.append("m.created_at >= ?")
        params.append(d.time(flt.since))
    if flt.until:
        where.append("m.created_at <= ?")
        params.append(d.time(flt.until))
    return d.native(" AND ".join(where) or d.always), params


@functools.cache
def orders(d: Dialect) -> dict[str, str]:
    """Sort order name -> ORDER BY clause over alias `m` (built once per dialect)."""

    def most(column: str) -> str:  # a column copied out of metadata.cognitive (migration 0060)
        return f"m.{column} DESC, m.created_at DESC"

    return {
        "newest": "m.created_at DESC, m.id DESC",
        "oldest": "m.created_at ASC, m.id ASC",
        "updated": "COALESCE(m.updated_at, m.created_at) DESC, m.id DESC",
        "reinforced": most("times_reinforced"),
        "contradicted": most("times_contradicted"),
        "accessed": "m.access_count DESC, m.created_at DESC",
    }


#: Orders an index serves (created_at): the others sort every matching row, so list_memories sorts ids
#: first (the "reinforced" order of the session pack: 63 -> 17 ms at 10k memories of one project).
INDEXED_ORDERS = frozenset({"newest", "oldest"})


def order_sql(order: str, d: Dialect) -> str:
    """The ORDER BY clause of a named order; InvalidInput (listing the names) for another."""
    known = orders(d)
    clause = known.get(order)
    if clause is None:
        raise InvalidInput(f"unknown order '{order}'", hint=f"use one of: {', '.join(known)}")
    return clause
