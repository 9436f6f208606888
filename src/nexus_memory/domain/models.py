"""Frozen value types that cross every layer (upstream reference 2.2)."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from nexus_memory.domain.enums import (
    CognitiveLevel,
    JobStatus,
    MemoryCategory,
    MemoryLaneType,
    PerspectiveSource,
)
from nexus_memory.domain.timeutil import from_iso, to_iso

JSONDict = dict[str, Any]


@dataclass(frozen=True, slots=True)
class PerspectiveKey:
    """Who observed what about whom, in which session. Hashable: used as a group key."""

    observer: str
    subject: str
    session_key: str | None = None

    @classmethod
    def infer(
        cls,
        source: PerspectiveSource,
        observer: str,
        session_key: str | None = None,
        subject_hint: str | None = None,
    ) -> PerspectiveKey:
        subject = subject_hint if subject_hint and subject_hint.strip() else source.default_subject
        key = session_key if session_key and session_key.strip() else None
        return cls(observer=observer, subject=subject, session_key=key)

    def to_dict(self) -> JSONDict:
        return {"observer": self.observer, "subject": self.subject, "session_key": self.session_key}


@dataclass(slots=True)
class CognitiveMetadata:
    """Stored under `metadata.cognitive`; every field of upstream reference 2.2."""

    level: CognitiveLevel = CognitiveLevel.RAW
    observer: str | None = None
    subject: str | None = None
    session_key: str | None = None
    session_keys: list[str] = field(default_factory=list)
    source_stage: str | None = None
    source_memory_ids: list[int] = field(default_factory=list)
    times_reinforced: int = 0
    times_contradicted: int = 0
    confidence: float | None = None
    generated_by: str | None = None
    derived_at: datetime | None = None
    last_belief_revision: datetime | None = None
    resolution_status: str | None = None

    @classmethod
    def new(
        cls,
        level: CognitiveLevel,
        observer: str,
        subject: str,
        session_key: str | None,
        source_stage: str,
    ) -> CognitiveMetadata:
        keys = [session_key] if session_key else []
        return cls(level=level, observer=observer, subject=subject, session_key=session_key,
                   session_keys=keys, source_stage=source_stage)

    @classmethod
    def from_metadata(cls, metadata: Mapping[str, Any] | None) -> CognitiveMetadata | None:
        """Read `metadata.cognitive`; None when absent or not an object."""
        if not isinstance(metadata, Mapping):
            return None
        raw = metadata.get("cognitive")
        if not isinstance(raw, Mapping):
            return None

        def _int(v: Any) -> int:
            try:
                return int(v)
            except (TypeError, ValueError):
                return 0

        conf = raw.get("confidence")
        try:
            confidence = float(conf) if conf is not None else None
        except (TypeError, ValueError):
            confidence = None
        return cls(
            level=CognitiveLevel.from_db(raw.get("level")),
            observer=raw.get("observer"),
            subject=raw.get("subject"),
            session_key=raw.get("session_key"),
            session_keys=[str(k) for k in raw.get("session_keys") or [] if k],
            source_stage=raw.get("source_stage"),
            source_memory_ids=[_int(i) for i in raw.get("source_memory_ids") or []],
            times_reinforced=_int(raw.get("times_reinforced")),
            times_contradicted=_int(raw.get("times_contradicted")),
            confidence=confidence,
            generated_by=raw.get("generated_by"),
            derived_at=from_iso(raw.get("derived_at")),
            last_belief_revision=from_iso(raw.get("last_belief_revision")),
            resolution_status=raw.get("resolution_status"),
        )

    def to_dict(self) -> JSONDict:
        return {
            "level": self.level.value,
            "observer": self.observer,
            "subject": self.subject,
            "session_key": self.session_key,
            "session_keys": list(self.session_keys),
            "source_stage": self.source_stage,
            "source_memory_ids": list(self.source_memory_ids),
            "times_reinforced": self.times_reinforced,
            "times_contradicted": self.times_contradicted,
            "confidence": self.confidence,
            "generated_by": self.generated_by,
            "derived_at": to_iso(self.derived_at) if self.derived_at else None,
            "last_belief_revision": to_iso(self.last_belief_revision) if self.last_belief_revision else None,
            "resolution_status": self.resolution_status,
        }

    def merge_into(self, metadata: Mapping[str, Any] | None) -> JSONDict:
        """A copy of `metadata` with its `cognitive` key set (an object is created if needed)."""
        out: JSONDict = copy.deepcopy(dict(metadata)) if isinstance(metadata, Mapping) else {}
        out["cognitive"] = self.to_dict()
        return out

    def perspective(self) -> PerspectiveKey | None:
        if not self.observer or not self.subject:
            return None
        return PerspectiveKey(self.observer, self.subject, self.session_key)


def cognitive_level_from_metadata(metadata: Mapping[str, Any] | None) -> CognitiveLevel:
    """`CognitiveMetadata.from_metadata(metadata).level` (RAW without one), without parsing the rest:
    search reads it for every candidate and every hit."""
    raw = metadata.get("cognitive") if isinstance(metadata, Mapping) else None
    return CognitiveLevel.from_db(raw.get("level")) if isinstance(raw, Mapping) else CognitiveLevel.RAW


def perspective_from_metadata(metadata: Mapping[str, Any] | None) -> PerspectiveKey | None:
    cog = CognitiveMetadata.from_metadata(metadata)
    return cog.perspective() if cog else None


def is_raw_activity(labels: tuple[str, ...] | list[str], metadata: Mapping[str, Any] | None) -> bool:
    """Upstream's raw-activity filter: the label, or `metadata.raw_activity` present."""
    if any(lbl == "raw-activity" for lbl in labels):
        return True
    return isinstance(metadata, Mapping) and metadata.get("raw_activity") is not None


@dataclass(frozen=True, slots=True)
class AgentNamespace:
    id: int
    name: str
    agent_type: str
    description: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None

    def to_dict(self) -> JSONDict:
        return {
            "id": self.id, "name": self.name, "agent_type": self.agent_type,
            "description": self.description,
            "created_at": to_iso(self.created_at) if self.created_at else None,
            "updated_at": to_iso(self.updated_at) if self.updated_at else None,
        }


@dataclass(frozen=True, slots=True)
class Memory:
    id: int
    namespace_id: int
    content: str
    category: MemoryCategory = MemoryCategory.GENERAL
    memory_lane_type: MemoryLaneType | None = None
    labels: tuple[str, ...] = ()
    metadata: JSONDict = field(default_factory=dict)
    created_at: datetime | None = None
    updated_at: datetime | None = None
    last_accessed: datetime | None = None
    is_active: bool = True
    is_archived: bool = False
    access_count: int = 0
    similarity_score: float | None = None
    relevance_score: float | None = None
    embedding_model: str | None = None
    #: Retrieval context: text that helps find this memory without being part of
    #: it (the preceding turn, the session date, the project). Indexed, not shown.
    context: str | None = None
    #: Canonical agent namespace name, filled by the store for convenience.
    agent: str | None = None
    session_key: str | None = None

    @property
    def cognitive(self) -> CognitiveMetadata | None:
        return CognitiveMetadata.from_metadata(self.metadata)

    def level(self) -> CognitiveLevel:
        return cognitive_level_from_metadata(self.metadata)

    @property
    def confidence(self) -> float | None:
        cog = self.cognitive
        return cog.confidence if cog else None

    @property
    def is_raw_activity(self) -> bool:
        return is_raw_activity(self.labels, self.metadata)

    def with_changes(self, **changes: Any) -> Memory:
        return replace(self, **changes)

    def to_dict(self) -> JSONDict:
        return {
            "id": self.id,
            "namespace_id": self.namespace_id,
            "agent_type": self.agent,
            "content": self.content,
            "category": self.category.value,
            "memory_lane_type": self.memory_lane_type.value if self.memory_lane_type else None,
            "labels": list(self.labels),
            "metadata": self.metadata,
            "context": self.context,
            "session_key": self.session_key,
            "cognitive_level": self.level().value,
            "created_at": to_iso(self.created_at) if self.created_at else None,
            "updated_at": to_iso(self.updated_at) if self.updated_at else None,
            "last_accessed": to_iso(self.last_accessed) if self.last_accessed else None,
            "is_active": self.is_active,
            "is_archived": self.is_archived,
            "access_count": self.access_count,
            "embedding_model": self.embedding_model,
        }


@dataclass(frozen=True, slots=True)
class Neighbourhood:
    """What hybrid ranking's neighbourhood stage reads of a candidate (`MemoryStore.neighbourhoods`):
    its agent namespace, session and perspective, without loading the whole memory."""

    agent: str | None = None
    session_key: str | None = None
    observer: str | None = None
    subject: str | None = None

    @classmethod
    def of(cls, memory: Memory) -> Neighbourhood:
        cog = memory.metadata.get("cognitive") if isinstance(memory.metadata, Mapping) else None
        cog = cog if isinstance(cog, Mapping) else {}
        observer, subject = cog.get("observer"), cog.get("subject")
        return cls(memory.agent, memory.session_key, observer if isinstance(observer, str) else None,
                   subject if isinstance(subject, str) else None)


@dataclass(frozen=True, slots=True)
class NewMemory:
    """What a caller hands the store; the store assigns id and times."""

    agent: str
    content: str
    category: MemoryCategory = MemoryCategory.GENERAL
    memory_lane_type: MemoryLaneType | None = None
    labels: tuple[str, ...] = ()
    metadata: JSONDict = field(default_factory=dict)
    context: str | None = None
    session_key: str | None = None
    created_at: datetime | None = None
    is_active: bool = True
    is_archived: bool = False
    #: Store with this id (imports keep stable ids); None lets the store pick.
    id: int | None = None


@dataclass(frozen=True, slots=True)
class MemoryPatch:
    """Fields to change; None means leave as is."""

    content: str | None = None
    category: MemoryCategory | None = None
    memory_lane_type: MemoryLaneType | None = None
    clear_lane: bool = False
    labels: tuple[str, ...] | None = None
    metadata: JSONDict | None = None
    context: str | None = None
    is_active: bool | None = None
    is_archived: bool | None = None


@dataclass(frozen=True, slots=True)
class StoreOutcome:
    memory: Memory
    created: bool  # False when the content merged into an existing memory


@dataclass(frozen=True, slots=True)
class MemoryFilter:
    """Filters shared by list, count, search and stats in every backend."""

    agents: tuple[str, ...] | None = None  # canonical names; None = every agent
    categories: tuple[MemoryCategory, ...] | None = None
    labels: tuple[str, ...] | None = None  # every label must be present
    lanes: tuple[MemoryLaneType, ...] | None = None
    levels: tuple[CognitiveLevel, ...] | None = None
    session_key: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    include_raw: bool = False
    include_archived: bool = False
    include_inactive: bool = False
    ids: tuple[int, ...] | None = None
    #: Runtime markers and session boundaries: records of a session, shown in the Sessions view only.
    include_bookkeeping: bool = False
    #: Project roots to keep; None inside means "memories of no project" (None = every project).
    projects: tuple[str | None, ...] | None = None


@dataclass(frozen=True, slots=True)
class MemoryRelation:
    source_memory_id: int
    target_memory_id: int
    relation_type: str
    strength: float = 1.0
    metadata: JSONDict | None = None
    id: int | None = None
    created_at: datetime | None = None

    def to_dict(self) -> JSONDict:
        return {
            "id": self.id, "source_memory_id": self.source_memory_id,
            "target_memory_id": self.target_memory_id, "relation_type": self.relation_type,
            "strength": self.strength, "metadata": self.metadata,
            "created_at": to_iso(self.created_at) if self.created_at else None,
        }


@dataclass(frozen=True, slots=True)
class Evidence:
    derived_memory_id: int
    source_memory_id: int
    evidence_role: str
    id: int | None = None
    created_at: datetime | None = None

    def to_dict(self) -> JSONDict:
        return {
            "id": self.id, "derived_memory_id": self.derived_memory_id,
            "source_memory_id": self.source_memory_id, "evidence_role": self.evidence_role,
            "created_at": to_iso(self.created_at) if self.created_at else None,
        }


@dataclass(frozen=True, slots=True)
class Job:
    id: int
    namespace_id: int
    job_type: str
    status: JobStatus
    priority: int
    payload: JSONDict
    perspective: JSONDict | None = None
    lease_owner: str | None = None
    claim_token: str | None = None
    lease_expires_at: datetime | None = None
    attempts: int = 0
    last_error: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None

    def to_dict(self) -> JSONDict:
        return {
            "id": self.id, "namespace_id": self.namespace_id, "job_type": self.job_type,
            "status": self.status.value, "priority": self.priority, "payload": self.payload,
            "perspective": self.perspective, "lease_owner": self.lease_owner,
            "lease_expires_at": to_iso(self.lease_expires_at) if self.lease_expires_at else None,
            "attempts": self.attempts, "last_error": self.last_error,
            "created_at": to_iso(self.created_at) if self.created_at else None,
            "updated_at": to_iso(self.updated_at) if self.updated_at else None,
        }


@dataclass(frozen=True, slots=True)
class SessionDigest:
    namespace_id: int
    session_key: str
    digest_kind: str  # short | long
    memory_id: int
    start_memory_id: int | None
    end_memory_id: int | None
    token_count: int
    id: int | None = None
    created_at: datetime | None = None

    def to_dict(self) -> JSONDict:
        return {
            "id": self.id, "namespace_id": self.namespace_id, "session_key": self.session_key,
            "digest_kind": self.digest_kind, "memory_id": self.memory_id,
            "start_memory_id": self.start_memory_id, "end_memory_id": self.end_memory_id,
            "token_count": self.token_count,
            "created_at": to_iso(self.created_at) if self.created_at else None,
        }


@dataclass(frozen=True, slots=True)
class TextHit:
    """One full-text match: BM25 score where higher is better."""

    memory_id: int
    score: float
    snippet: str | None = None


@dataclass(frozen=True, slots=True)
class NamespaceStats:
    namespace_name: str
    total_memories: int
    active_memories: int
    archived_memories: int
    categories: dict[str, int]
    levels: dict[str, int]
    oldest_memory: datetime | None
    newest_memory: datetime | None

    def to_dict(self) -> JSONDict:
        return {
            "namespace_name": self.namespace_name,
            "total_memories": self.total_memories,
            "active_memories": self.active_memories,
            "archived_memories": self.archived_memories,
            "categories": self.categories,
            "levels": self.levels,
            "oldest_memory": to_iso(self.oldest_memory) if self.oldest_memory else None,
            "newest_memory": to_iso(self.newest_memory) if self.newest_memory else None,
        }
