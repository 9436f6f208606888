"""Frozen value types that cross every layer (upstream reference 2.2)."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any, NamedTuple

from nexus_memory.domain.enums import CognitiveLevel, MemoryCategory, MemoryLaneType
from nexus_memory.domain.timeutil import from_iso, to_iso

if TYPE_CHECKING:  # at run time `__getattr__` below builds them on first use (domain/records.py)
    from nexus_memory.domain.records import Evidence as Evidence
    from nexus_memory.domain.records import Job as Job
    from nexus_memory.domain.records import MemoryPatch as MemoryPatch
    from nexus_memory.domain.records import MemoryRelation as MemoryRelation
    from nexus_memory.domain.records import NamespaceStats as NamespaceStats
    from nexus_memory.domain.records import PerspectiveKey as PerspectiveKey
    from nexus_memory.domain.records import SessionDigest as SessionDigest

JSONDict = dict[str, Any]
_RECORDS = frozenset({"Evidence", "Job", "MemoryPatch", "MemoryRelation", "NamespaceStats", "PerspectiveKey",
                      "SessionDigest"})


def __getattr__(name: str) -> Any:
    """The value types of domain/records.py, imported on first use (PEP 562)."""
    if name in _RECORDS:
        from nexus_memory.domain import records

        value = getattr(records, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


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
        from nexus_memory.domain.records import PerspectiveKey

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


class StoreOutcome(NamedTuple):  # a tuple: built for a fraction of a frozen dataclass's cost
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


class TextHit(NamedTuple):  # a tuple: built for a fraction of a frozen dataclass's cost
    """One full-text match: BM25 score where higher is better."""

    memory_id: int
    score: float
    snippet: str | None = None
