"""Request and response bodies. Field names are the MCP tools' names (content, agent_type, ...)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from nexus_memory.domain.enums import CognitiveLevel, MemoryCategory, MemoryLaneType, SearchMode

MAX_CONTENT = 200_000
Label = Annotated[str, Field(max_length=100)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class MemoryCreate(_Strict):
    content: str = Field(min_length=1, max_length=MAX_CONTENT, description="the text to remember")
    agent_type: str | None = Field(None, max_length=128, description="agent namespace; default NEXUS_DEFAULT_AGENT")
    category: MemoryCategory = MemoryCategory.GENERAL
    memory_lane_type: MemoryLaneType | None = None
    labels: list[Label] = Field(default_factory=list, max_length=64)
    metadata: dict[str, Any] | None = None
    session_key: str | None = Field(None, max_length=512)


class MemoryUpdate(_Strict):
    content: str | None = Field(None, min_length=1, max_length=MAX_CONTENT)
    category: MemoryCategory | None = None
    memory_lane_type: MemoryLaneType | None = None
    labels: list[Label] | None = Field(None, max_length=64)
    metadata: dict[str, Any] | None = None
    is_active: bool | None = None
    is_archived: bool | None = None


class SearchRequest(_Strict):
    query: str = Field(min_length=1, max_length=2000, description="words to search for")
    agent_type: str | None = Field(None, max_length=128, description="only this agent; omit for every agent")
    category: MemoryCategory | None = None
    memory_lane_type: MemoryLaneType | None = None
    cognitive_level: CognitiveLevel | None = None
    cognitive_levels: list[CognitiveLevel] = Field(default_factory=list, max_length=8,
                                                   description="any of these levels (with cognitive_level: both)")
    labels: list[Label] = Field(default_factory=list, max_length=64, description="every label must be present")
    session_key: str | None = Field(None, max_length=512)
    since: datetime | None = None
    until: datetime | None = None
    include_raw: bool = Field(True, description="episodes (raw hook activity) too, ranked below other memories")
    project_root: str | None = Field(None, max_length=1000,
                                     description="only memories of this project (its key or root), and memories of no project")
    project_keys: list[Annotated[str, Field(max_length=1000)]] = Field(
        default_factory=list, max_length=32, description="more keys of the same project (older worktree roots)")
    include_archived: bool = False
    limit: int = Field(10, ge=1, le=100)
    mode: SearchMode = SearchMode.HYBRID
    explain: bool = False
    threshold: float = Field(0.0, ge=0.0, le=1.0, description="drop hits below this fraction of the best score")


class MemoryOut(BaseModel):
    id: int
    namespace_id: int
    agent_type: str | None
    content: str
    category: str
    memory_lane_type: str | None
    labels: list[str]
    metadata: dict[str, Any]
    context: str | None
    session_key: str | None
    cognitive_level: str
    created_at: str | None
    updated_at: str | None
    last_accessed: str | None
    is_active: bool
    is_archived: bool
    access_count: int
    embedding_model: str | None


class StoreResult(BaseModel):
    id: int
    created: bool
    merged: bool
    memory: MemoryOut


class MemoryPage(BaseModel):
    items: list[MemoryOut]
    total: int
    limit: int
    offset: int
    next_offset: int | None


class SearchHitOut(BaseModel):
    memory: MemoryOut
    score: float
    highlight: str | None = None
    explain: dict[str, float] | None = None


class SearchResult(BaseModel):
    query: str
    count: int
    results: list[SearchHitOut]


class Deleted(BaseModel):
    deleted: bool
    id: int


class ErrorBody(BaseModel):
    error: str
    message: str
    hint: str | None = None
    field: str | None = None


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorBody, "description": "not found; the message says how to find a valid id"},
    409: {"model": ErrorBody, "description": "conflicts with the current state; the hint says what to do"},
    422: {"model": ErrorBody, "description": "invalid input; `field` names the field at fault"},
}
