"""The Nexus export format, version 1: JSON Lines, one record per line (docs/export-format.md).

Turning store values into records and records back into store values lives here,
so the exporter, the importer, backend migration and the upstream reader agree.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from nexus_memory.domain.agents import canonicalize_agent_type
from nexus_memory.domain.enums import MemoryCategory, MemoryLaneType
from nexus_memory.domain.models import AgentNamespace, Evidence, Memory, MemoryRelation, NewMemory, SessionDigest
from nexus_memory.domain.timeutil import from_iso, to_iso, utcnow
from nexus_memory.storage.common import content_hash

FORMAT = "nexus-memory-export"
VERSION = 1
RECORD_TYPES = ("header", "namespace", "memory", "relation", "evidence", "digest", "end")


class BadRecord(ValueError):
    """A record that cannot be imported; the message says which field and why."""


def memory_uid(namespace: str, created_at: datetime, content: str) -> str:
    """Identity of a memory across machines: namespace, creation time and content.

    None of the three changes when a memory is exported and imported, so a second
    import of the same file (or of an export of the imported copy) finds it again.
    """
    text = f"{namespace}\x1f{to_iso(created_at)}\x1f{content_hash(content)}"
    return "m1-" + hashlib.sha1(text.encode("utf-8")).hexdigest()[:32]


def _iso(value: datetime | None) -> str | None:
    return to_iso(value) if value else None


def header(source: Mapping[str, Any], filters: Mapping[str, Any] | None = None) -> dict[str, Any]:
    return {"type": "header", "format": FORMAT, "version": VERSION, "exported_at": to_iso(utcnow()),
            "source": dict(source), "filters": dict(filters or {})}


def namespace_record(ns: AgentNamespace) -> dict[str, Any]:
    return {"type": "namespace", "id": ns.id, "name": ns.name, "agent_type": ns.agent_type,
            "description": ns.description, "created_at": _iso(ns.created_at)}


def memory_record(m: Memory, vectors: list[tuple[str, str, list[float]]] | None = None) -> dict[str, Any]:
    created = m.created_at or utcnow()
    agent = m.agent or str(m.namespace_id)
    rec: dict[str, Any] = {
        "type": "memory", "id": m.id, "uid": memory_uid(agent, created, m.content), "namespace": agent,
        "content": m.content, "context": m.context, "category": m.category.value,
        "memory_lane_type": m.memory_lane_type.value if m.memory_lane_type else None,
        "labels": list(m.labels), "metadata": m.metadata, "session_key": m.session_key,
        "created_at": to_iso(created), "updated_at": _iso(m.updated_at), "last_accessed": _iso(m.last_accessed),
        "is_active": m.is_active, "is_archived": m.is_archived, "access_count": m.access_count,
        "similarity_score": m.similarity_score, "relevance_score": m.relevance_score,
        "embedding_model": m.embedding_model,
    }
    if vectors:
        rec["vectors"] = [{"model": model, "kind": kind, "vector": vec} for model, kind, vec in vectors]
    return rec


def relation_record(r: MemoryRelation) -> dict[str, Any]:
    return {"type": "relation", "id": r.id, "source_memory_id": r.source_memory_id,
            "target_memory_id": r.target_memory_id, "relation_type": r.relation_type, "strength": r.strength,
            "metadata": r.metadata, "created_at": _iso(r.created_at)}


def evidence_record(e: Evidence) -> dict[str, Any]:
    return {"type": "evidence", "id": e.id, "derived_memory_id": e.derived_memory_id,
            "source_memory_id": e.source_memory_id, "evidence_role": e.evidence_role,
            "created_at": _iso(e.created_at)}


def digest_record(d: SessionDigest, namespace: str) -> dict[str, Any]:
    return {"type": "digest", "id": d.id, "namespace": namespace, "session_key": d.session_key,
            "digest_kind": d.digest_kind, "memory_id": d.memory_id, "start_memory_id": d.start_memory_id,
            "end_memory_id": d.end_memory_id, "token_count": d.token_count, "created_at": _iso(d.created_at)}


# reading -------------------------------------------------------------------------
def need(rec: Mapping[str, Any], key: str, kind: type | tuple[type, ...]) -> Any:
    value = rec.get(key)
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is int):
        names = kind.__name__ if isinstance(kind, type) else "/".join(k.__name__ for k in kind)
        raise BadRecord(f"field '{key}' must be {names}, got {type(value).__name__}")
    return value


def opt_int(rec: Mapping[str, Any], key: str) -> int | None:
    value = rec.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise BadRecord(f"field '{key}' must be an integer or null")
    return value


def when(rec: Mapping[str, Any], key: str) -> datetime | None:
    value = rec.get(key)
    if value is None:
        return None
    parsed = from_iso(value) if isinstance(value, str) else None
    if parsed is None:
        raise BadRecord(f"field '{key}' is not an ISO-8601 time: {value!r}")
    return parsed


def canonical_namespace(rec: Mapping[str, Any], key: str = "namespace") -> str:
    name = canonicalize_agent_type(str(need(rec, key, str)).strip())
    if not name:
        raise BadRecord(f"field '{key}' is empty")
    return name


def new_memory_from(rec: Mapping[str, Any], *, memory_id: int | None) -> NewMemory:
    """The NewMemory a memory record describes (validated)."""
    content = need(rec, "content", str)
    if not content.strip():
        raise BadRecord("field 'content' is empty")
    labels = rec.get("labels") or []
    if not isinstance(labels, list) or not all(isinstance(x, str) for x in labels):
        raise BadRecord("field 'labels' must be a list of strings")
    metadata = rec.get("metadata") or {}
    if not isinstance(metadata, dict):
        raise BadRecord("field 'metadata' must be an object")
    lane = rec.get("memory_lane_type")
    context = rec.get("context")
    session_key = rec.get("session_key")
    return NewMemory(
        agent=canonical_namespace(rec),
        content=content,
        category=MemoryCategory.from_db(str(rec.get("category") or "general")),
        memory_lane_type=MemoryLaneType.from_db(str(lane)) if lane else None,
        labels=tuple(labels),
        metadata=metadata,
        context=context if isinstance(context, str) and context else None,
        session_key=session_key if isinstance(session_key, str) and session_key else None,
        created_at=when(rec, "created_at") or utcnow(),
        is_active=bool(rec.get("is_active", True)),
        is_archived=bool(rec.get("is_archived", False)),
        id=memory_id,
    )


def vectors_from(rec: Mapping[str, Any]) -> list[tuple[str, str, list[float]]]:
    raw = rec.get("vectors") or []
    if not isinstance(raw, list):
        raise BadRecord("field 'vectors' must be a list")
    out = []
    for item in raw:
        if not isinstance(item, dict):
            raise BadRecord("each vector must be an object with model, kind and vector")
        vec = item.get("vector")
        if not isinstance(vec, list) or not vec or not all(isinstance(x, int | float) for x in vec):
            raise BadRecord("a vector must be a non-empty list of numbers")
        out.append((str(need(item, "model", str)), str(item.get("kind") or "content"), [float(x) for x in vec]))
    return out


def remap_metadata(metadata: dict[str, Any], ids: Mapping[int, int]) -> dict[str, Any]:
    """Rewrite memory ids inside metadata (lineage pointers) through the import's id map."""
    cog = metadata.get("cognitive")
    changed = False
    out = dict(metadata)
    if isinstance(cog, dict) and isinstance(cog.get("source_memory_ids"), list):
        mapped = [ids.get(i, i) if isinstance(i, int) else i for i in cog["source_memory_ids"]]
        if mapped != cog["source_memory_ids"]:
            out["cognitive"] = {**cog, "source_memory_ids": mapped}
            changed = True
    dist = metadata.get("distillation")
    if isinstance(dist, dict) and isinstance(dist.get("summary_memory_id"), int):
        target = ids.get(dist["summary_memory_id"])
        if target is not None and target != dist["summary_memory_id"]:
            out["distillation"] = {**dist, "summary_memory_id": target}
            changed = True
    return out if changed else metadata
