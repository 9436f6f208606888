"""/api/v1/memories: create, read, update, delete, list (offset pagination), search, lineage."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Path, Query, Request, Response

from nexus_memory.domain.agents import validate_agent_name
from nexus_memory.domain.enums import CognitiveLevel, MemoryCategory, MemoryLaneType
from nexus_memory.domain.jsonsafe import check_metadata
from nexus_memory.domain.models import MemoryFilter
from nexus_memory.domain.protocol import STORE_HEADER
from nexus_memory.domain.timeutil import from_iso, to_iso
from nexus_memory.errors import Conflict, InvalidInput
from nexus_memory.http.errors import FieldError, field, in_field, memory_hint
from nexus_memory.http.schemas import (
    ERROR_RESPONSES,
    Deleted,
    MemoryCreate,
    MemoryOut,
    MemoryPage,
    MemoryUpdate,
    SearchRequest,
    SearchResult,
    StoreResult,
)
from nexus_memory.services.memories import StoreRequest
from nexus_memory.services.search import SearchQuery

if TYPE_CHECKING:
    from nexus_memory.app import App

MAX_ID = 2**63 - 1
MemoryId = Annotated[int, Path(ge=1, le=MAX_ID, description="the memory's id")]
ORDERS = ("newest", "oldest", "updated", "reinforced", "contradicted", "accessed")


def _when(name: str, value: datetime | None) -> datetime | None:
    """A time bound as aware UTC; out-of-range values are the caller's field error, not a crash."""
    if value is None:
        return None
    try:
        return from_iso(to_iso(value))
    except (OverflowError, ValueError):
        raise FieldError(name, InvalidInput(f"the time {name}={value} is out of range",
                                            hint="use an ISO date such as 2026-11-25T00:00:00Z")) from None


def _metadata(value: dict[str, Any] | None) -> dict[str, Any] | None:
    """Metadata checked here so an error names the `metadata` field (NaN, Infinity, depth, size)."""
    return None if value is None else in_field("metadata", lambda: check_metadata(value))


def _agent(name: str | None) -> str | None:
    return in_field("agent_type", lambda: validate_agent_name(name)) if name and name.strip() else None


def build_filter(*, agent_type: str | None = None, category: MemoryCategory | None = None,
                 memory_lane_type: MemoryLaneType | None = None, cognitive_level: CognitiveLevel | None = None,
                 labels: list[str] | None = None, session_key: str | None = None, since: datetime | None = None,
                 until: datetime | None = None, include_raw: bool = False,
                 include_archived: bool = False) -> MemoryFilter:
    agent = _agent(agent_type)
    return MemoryFilter(
        agents=(agent,) if agent else None,
        categories=(category,) if category else None,
        lanes=(memory_lane_type,) if memory_lane_type else None,
        levels=(cognitive_level,) if cognitive_level else None,
        labels=tuple(lbl for lbl in labels or () if lbl.strip()) or None,
        session_key=session_key or None,
        since=_when("since", since),
        until=_when("until", until),
        include_raw=include_raw or cognitive_level is CognitiveLevel.RAW,
        include_archived=include_archived,
        include_inactive=include_archived,
    )


def build_memories_router(app: App) -> APIRouter:
    router = APIRouter(prefix="/memories", tags=["memories"], responses=ERROR_RESPONSES)

    @router.get("", response_model=MemoryPage, summary="List memories, newest first (offset pagination)")
    def list_memories(
        agent_type: str | None = Query(None, max_length=128),
        category: MemoryCategory | None = None,
        memory_lane_type: MemoryLaneType | None = None,
        cognitive_level: CognitiveLevel | None = None,
        label: list[str] | None = Query(None, description="every label must be present (repeatable)"),
        session_key: str | None = Query(None, max_length=512),
        since: datetime | None = None,
        until: datetime | None = None,
        include_raw: bool = False,
        include_archived: bool = False,
        order: str = Query("newest", pattern="^(" + "|".join(ORDERS) + ")$"),
        limit: int = Query(50, ge=1, le=1000),
        offset: int = Query(0, ge=0, le=10_000_000),
    ) -> dict[str, Any]:
        flt = build_filter(agent_type=agent_type, category=category, memory_lane_type=memory_lane_type,
                           cognitive_level=cognitive_level, labels=label, session_key=session_key, since=since,
                           until=until, include_raw=include_raw, include_archived=include_archived)
        items = app.memories.list_memories(flt, limit=limit, offset=offset, order=order)
        total = app.memories.count(flt)
        return {"items": [m.to_dict() for m in items], "total": total, "limit": limit, "offset": offset,
                "next_offset": offset + limit if offset + limit < total else None}

    @router.post("", response_model=StoreResult, status_code=201,
                 summary="Store a memory (identical content in the same agent merges)")
    def store_memory(body: MemoryCreate) -> dict[str, Any]:
        agent = _agent(body.agent_type)
        metadata = _metadata(body.metadata)
        with field("content", hint="send a non-empty `content` of at most 200000 characters"):
            req = StoreRequest(content=body.content, agent=agent, category=body.category,
                               labels=tuple(body.labels), lane=body.memory_lane_type, metadata=metadata,
                               session_key=body.session_key, source_stage="http")
            outcome = app.memories.store(req)
        return {"id": outcome.memory.id, "created": outcome.created, "merged": not outcome.created,
                "memory": outcome.memory.to_dict()}

    store_id = app.settings.store_id

    @router.post("/search", response_model=SearchResult, summary="Search memories, best match first")
    def search(body: SearchRequest, request: Request, response: Response) -> dict[str, Any]:
        # A client that names the store it means (a hook: Settings.store_id) is refused by a server of
        # another store, and every answer says which store it comes from.
        response.headers[STORE_HEADER] = store_id
        wanted = request.headers.get(STORE_HEADER)
        if wanted and wanted != store_id:
            raise Conflict(f"this server works on another store ({store_id}, not {wanted})",
                           hint="point NEXUS_PORT at the `nexus serve` of your own NEXUS_HOME or database")
        flt = build_filter(agent_type=body.agent_type, category=body.category,
                           memory_lane_type=body.memory_lane_type, cognitive_level=body.cognitive_level,
                           labels=body.labels, session_key=body.session_key, since=body.since, until=body.until,
                           include_raw=body.include_raw, include_archived=body.include_archived)
        if body.cognitive_levels:
            levels = tuple(dict.fromkeys([*(flt.levels or ()), *body.cognitive_levels]))
            flt = replace(flt, levels=levels, include_raw=flt.include_raw or CognitiveLevel.RAW in levels)
        if body.project_root or body.project_keys:
            keys = [k for k in (body.project_root, *body.project_keys) if k]
            flt = replace(flt, projects=(*dict.fromkeys(keys), None))
        with field("query" if body.mode.value != "vector" else "mode"):
            hits = app.search.search(SearchQuery(text=body.query, filter=flt, limit=body.limit, mode=body.mode,
                                                 explain=body.explain))
        top = max((h.score for h in hits), default=0.0)
        if body.threshold > 0 and top > 0:
            hits = [h for h in hits if h.score / top >= body.threshold]
        return {"query": body.query, "count": len(hits), "results": [h.to_dict(body.explain) for h in hits]}

    @router.get("/{memory_id}", response_model=MemoryOut, summary="Read one memory")
    def get_memory(memory_id: MemoryId, touch: bool = False) -> dict[str, Any]:
        with memory_hint():
            return app.memories.get(memory_id, touch=touch).to_dict()

    @router.put("/{memory_id}", response_model=MemoryOut,
                summary="Change a memory (content, category, lane, labels, metadata, active, archived)")
    def update_memory(memory_id: MemoryId, body: MemoryUpdate) -> dict[str, Any]:
        metadata = _metadata(body.metadata)
        with memory_hint(), field("content", hint="send a non-empty `content`, or leave it out"):
            memory = app.memories.update(
                memory_id, content=body.content, category=body.category, lane=body.memory_lane_type,
                labels=body.labels, metadata=metadata, is_active=body.is_active, is_archived=body.is_archived,
            )
        return memory.to_dict()

    @router.delete("/{memory_id}", response_model=Deleted, summary="Delete a memory and its lineage for good")
    def delete_memory(memory_id: MemoryId) -> dict[str, Any]:
        with memory_hint():
            app.memories.delete(memory_id)
        return {"deleted": True, "id": memory_id}

    @router.get("/{memory_id}/lineage", summary="Sources, derived memories and relations of a memory")
    def lineage(memory_id: MemoryId) -> dict[str, Any]:
        with memory_hint():
            return app.cognition.lineage(memory_id).to_dict()

    return router
