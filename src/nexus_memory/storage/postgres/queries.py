"""SQL pieces of the PostgreSQL adapter: row mapping, filters, orders, text queries."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from nexus_memory.domain.enums import MemoryCategory, MemoryLaneType
from nexus_memory.domain.models import AgentNamespace, Memory, MemoryFilter, MemoryRelation, SessionDigest

MEMORY_COLUMNS = (
    "m.id, m.namespace_id, m.content, m.context, m.category, m.memory_lane_type, m.labels, m.metadata, "
    "m.session_key, m.similarity_score, m.relevance_score, m.embedding_model, m.created_at, m.updated_at, "
    "m.last_accessed, m.is_active, m.is_archived, m.access_count, n.name AS agent"
)
FROM = "FROM memories m JOIN agent_namespaces n ON n.id = m.namespace_id"


def _int_path(key: str) -> str:
    # A non-numeric value sorts like a missing one instead of failing the query.
    expr = f"m.metadata->'cognitive'->'{key}'"
    return f"(CASE WHEN jsonb_typeof({expr}) = 'number' THEN ({expr})::numeric END)"


ORDERS = {
    "newest": "m.created_at DESC, m.id DESC",
    "oldest": "m.created_at ASC, m.id ASC",
    "updated": "COALESCE(m.updated_at, m.created_at) DESC, m.id DESC",
    "reinforced": f"{_int_path('times_reinforced')} DESC NULLS LAST, m.created_at DESC",
    "contradicted": f"{_int_path('times_contradicted')} DESC NULLS LAST, m.created_at DESC",
    "accessed": "m.access_count DESC, m.created_at DESC",
}


def utc(value: datetime | None) -> datetime | None:
    return value.astimezone(UTC) if value is not None else None


def _labels(value: Any) -> tuple[str, ...]:
    return tuple(str(v) for v in value) if isinstance(value, list) else ()


def _obj(value: Any) -> dict[str, Any]:
    if isinstance(value, dict):
        return value
    return {} if value is None else {"value": value}


def row_to_memory(row: Mapping[str, Any]) -> Memory:
    return Memory(
        id=int(row["id"]),
        namespace_id=int(row["namespace_id"]),
        content=row["content"],
        category=MemoryCategory.from_db(row["category"]),
        memory_lane_type=MemoryLaneType.from_db(row["memory_lane_type"]),
        labels=_labels(row["labels"]),
        metadata=_obj(row["metadata"]),
        created_at=utc(row["created_at"]),
        updated_at=utc(row["updated_at"]),
        last_accessed=utc(row["last_accessed"]),
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


def row_to_namespace(row: Mapping[str, Any] | None) -> AgentNamespace | None:
    if row is None:
        return None
    return AgentNamespace(
        id=int(row["id"]), name=row["name"], agent_type=row["agent_type"], description=row["description"],
        created_at=utc(row["created_at"]), updated_at=utc(row["updated_at"]),
    )


def row_to_relation(row: Mapping[str, Any]) -> MemoryRelation:
    return MemoryRelation(
        id=int(row["id"]), source_memory_id=int(row["source_memory_id"]),
        target_memory_id=int(row["target_memory_id"]), relation_type=row["relation_type"],
        strength=row["strength"], metadata=_obj(row["metadata"]) if row["metadata"] is not None else None,
        created_at=utc(row["created_at"]),
    )


def row_to_digest(row: Mapping[str, Any]) -> SessionDigest:
    return SessionDigest(
        id=int(row["id"]), namespace_id=int(row["namespace_id"]), session_key=row["session_key"],
        digest_kind=row["digest_kind"], memory_id=int(row["memory_id"]), start_memory_id=row["start_memory_id"],
        end_memory_id=row["end_memory_id"], token_count=row["token_count"], created_at=utc(row["created_at"]),
    )


def filter_sql(flt: MemoryFilter) -> tuple[str, list[Any]]:
    """WHERE clause (without the keyword) and parameters for a MemoryFilter (same rules as SQLite)."""
    where: list[str] = []
    params: list[Any] = []

    def _any(column: str, values: Sequence[Any]) -> None:
        where.append(f"{column} = ANY(%s)")
        params.append(list(values))

    if not flt.include_inactive:
        where.append("m.is_active")
    if not flt.include_archived:
        where.append("NOT m.is_archived")
    if not flt.include_raw:
        where.append("NOT m.is_raw")
    if flt.agents is not None:
        if not flt.agents:
            where.append("FALSE")
        else:
            _any("n.name", list(flt.agents))
    if flt.categories:
        _any("m.category", [c.value for c in flt.categories])
    if flt.lanes:
        _any("m.memory_lane_type", [lane.value for lane in flt.lanes])
    if flt.levels:
        _any("m.level", [lv.value for lv in flt.levels])
    if flt.ids is not None:
        if not flt.ids:
            where.append("FALSE")
        else:
            _any("m.id", [int(i) for i in flt.ids])
    for label in flt.labels or ():
        where.append("EXISTS (SELECT 1 FROM jsonb_array_elements_text(m.labels) AS l(v) WHERE lower(l.v) = lower(%s))")
        params.append(label)
    if flt.session_key:
        where.append(
            "(m.session_key = %s OR (jsonb_typeof(m.metadata->'cognitive'->'session_keys') = 'array' "
            "AND m.metadata->'cognitive'->'session_keys' @> jsonb_build_array(%s::text)))"
        )
        params.extend([flt.session_key, flt.session_key])
    if flt.since:
        where.append("m.created_at >= %s")
        params.append(flt.since)
    if flt.until:
        where.append("m.created_at <= %s")
        params.append(flt.until)
    return (" AND ".join(where) or "TRUE"), params
