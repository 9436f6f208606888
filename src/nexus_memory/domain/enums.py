"""Enums whose string forms are what the store holds (upstream reference 2.1)."""

from __future__ import annotations

from enum import Enum
from typing import Self

from nexus_memory.errors import InvalidInput


class _StrEnum(str, Enum):
    def __str__(self) -> str:
        return str(self.value)

    @classmethod
    def values(cls) -> list[str]:
        return [m.value for m in cls]

    @classmethod
    def parse(cls, value: str | Self) -> Self:
        """Parse a user-supplied value; the error lists every valid choice."""
        if isinstance(value, cls):
            return value
        text = str(value).strip().lower().replace("-", "_")
        for member in cls:
            if member.value == text:
                return member
        raise InvalidInput(
            f"unknown {_LABELS.get(cls.__name__, 'value')} '{value}'",
            hint=f"use one of: {', '.join(cls.values())}",
        )



_LABELS: dict[str, str] = {'MemoryCategory': 'category', 'MemoryLaneType': 'memory lane type', 'CognitiveLevel': 'cognitive level', 'RelationType': 'relation type', 'PerspectiveSource': 'perspective source', 'RuntimeMode': 'runtime mode', 'RuntimeShutdownReason': 'shutdown reason', 'MemoryBucket': 'bucket', 'JobStatus': 'job status', 'JobType': 'job type', 'EvidenceRole': 'evidence role', 'SearchMode': 'search mode'}


class MemoryCategory(_StrEnum):
    GENERAL = "general"
    FACTS = "facts"
    PREFERENCES = "preferences"
    CONTEXT = "context"
    SPECIFICATIONS = "specifications"
    SESSION = "session"


    @property
    def description(self) -> str:
        return _CATEGORY_DESCRIPTIONS[self]

    @classmethod
    def from_db(cls, value: str | None) -> MemoryCategory:
        """Stored values that no longer parse read as `general` (upstream rule)."""
        try:
            return cls(value or "general")
        except ValueError:
            return cls.GENERAL


_CATEGORY_DESCRIPTIONS = {
    MemoryCategory.GENERAL: "General purpose memories",
    MemoryCategory.FACTS: "Factual information",
    MemoryCategory.PREFERENCES: "User preferences and settings",
    MemoryCategory.CONTEXT: "Situational context",
    MemoryCategory.SPECIFICATIONS: "Task specifications",
    MemoryCategory.SESSION: "Session-based memories and context",
}


class MemoryLaneType(_StrEnum):
    """Untagged union upstream: 9 cognitive lanes and 10 priority lanes.

    Parsing tries the cognitive values first, then the priority values, which
    is the same as a single lookup because no value is in both sets.
    """

    # cognitive
    SEMANTIC = "semantic"
    EPISODIC = "episodic"
    PROCEDURAL = "procedural"
    WORKING = "working"
    EXPLICIT = "explicit"
    IMPLICIT = "implicit"
    FLASHBULB = "flashbulb"
    METAMEMORY = "metamemory"
    COLLECTIVE = "collective"
    # priority
    CORRECTION = "correction"
    DECISION = "decision"
    COMMITMENT = "commitment"
    INSIGHT = "insight"
    LEARNING = "learning"
    CONFIDENCE = "confidence"
    PATTERN_SEED = "pattern_seed"
    CROSS_AGENT = "cross_agent"
    WORKFLOW_NOTE = "workflow_note"
    GAP = "gap"


    @property
    def is_cognitive(self) -> bool:
        return self.value in COGNITIVE_LANES

    @property
    def is_priority(self) -> bool:
        return self.value in _PRIORITY_LEVELS

    @property
    def priority_level(self) -> int | None:
        """1 (high) to 3 (low) for priority lanes; None for cognitive lanes."""
        return _PRIORITY_LEVELS.get(self.value)

    @classmethod
    def from_db(cls, value: str | None) -> MemoryLaneType | None:
        """An unknown stored value reads as no lane (upstream: NULL)."""
        if not value:
            return None
        try:
            return cls(value)
        except ValueError:
            return None


COGNITIVE_LANES = frozenset(
    {"semantic", "episodic", "procedural", "working", "explicit", "implicit", "flashbulb", "metamemory",
     "collective"}
)
_PRIORITY_LEVELS = {
    "correction": 1, "decision": 1, "commitment": 1,
    "insight": 2, "learning": 2, "confidence": 2,
    "pattern_seed": 3, "cross_agent": 3, "workflow_note": 3, "gap": 3,
}


class CognitiveLevel(_StrEnum):
    RAW = "raw"
    EXPLICIT = "explicit"
    DERIVED = "derived"
    SUMMARY_SHORT = "summary_short"
    SUMMARY_LONG = "summary_long"
    CONTRADICTION = "contradiction"


    @classmethod
    def from_db(cls, value: object) -> CognitiveLevel:
        """Missing or unparseable means raw (upstream rule)."""
        try:
            return cls(str(value)) if value else cls.RAW
        except ValueError:
            return cls.RAW

    @property
    def is_summary(self) -> bool:
        return self in (CognitiveLevel.SUMMARY_SHORT, CognitiveLevel.SUMMARY_LONG)


class RelationType(_StrEnum):
    SIMILAR = "similar"
    RELATED = "related"
    PARENT = "parent"
    CHILD = "child"
    REFERENCES = "references"
    # Used by belief revision: the newer statement supersedes the older one.
    SUPERSEDES = "supersedes"



class PerspectiveSource(_StrEnum):
    HOOK_INGEST = "hook_ingest"
    SESSION_LIFECYCLE = "session_lifecycle"
    DIGEST = "digest"
    REFLECTION = "reflection"
    QUERY = "query"


    @property
    def default_subject(self) -> str:
        return _DEFAULT_SUBJECTS[self]


_DEFAULT_SUBJECTS = {
    PerspectiveSource.HOOK_INGEST: "agent_activity",
    PerspectiveSource.SESSION_LIFECYCLE: "user_session",
    PerspectiveSource.DIGEST: "session_consolidation",
    PerspectiveSource.REFLECTION: "knowledge_distillation",
    PerspectiveSource.QUERY: "knowledge_retrieval",
}


class RuntimeMode(_StrEnum):
    SESSION_SCOPED = "session_scoped"
    PERSISTENT = "persistent"


    @classmethod
    def from_cli(cls, value: str) -> RuntimeMode:
        """The CLI says `session` or `persistent` (upstream flag values)."""
        v = value.strip().lower()
        if v in ("session", "session_scoped", "session-scoped"):
            return cls.SESSION_SCOPED
        if v == "persistent":
            return cls.PERSISTENT
        raise InvalidInput(f"unknown runtime mode '{value}'", hint="use one of: session, persistent")


class RuntimeShutdownReason(_StrEnum):
    SESSION_ENDED = "session_ended"
    IDLE_TIMEOUT = "idle_timeout"
    MANUAL = "manual"


    @property
    def label(self) -> str:
        """Upstream `runtime_reason_label`."""
        return self.value.replace("_", "-")

    @classmethod
    def from_label(cls, value: str) -> RuntimeShutdownReason:
        v = value.strip().lower().replace("-", "_")
        aliases = {"session_end": "session_ended", "session_shutdown": "session_ended", "idle": "idle_timeout"}
        v = aliases.get(v, v)
        for m in cls:
            if m.value == v:
                return m
        raise InvalidInput(
            f"unknown shutdown reason '{value}'", hint="use one of: session-ended, idle-timeout, manual"
        )


class MemoryBucket(_StrEnum):
    DIGESTS = "digests"
    RECENT = "recent"
    SEMANTIC = "semantic"
    DERIVED = "derived"
    CONTRADICTIONS = "contradictions"



class ExclusionReason(_StrEnum):
    DEDUPLICATED = "deduplicated"
    BUDGET_TRUNCATION = "budget_truncation"
    CONFIDENCE_GATE = "confidence_gate"
    LEVEL_GATE = "level_gate"


class ConfidenceTier(_StrEnum):
    WHISPER = "whisper"
    CLEAR = "clear"
    LOUD = "loud"

    @classmethod
    def from_score(cls, score: float) -> ConfidenceTier:
        if score >= 0.85:
            return cls.LOUD
        if score >= 0.72:
            return cls.CLEAR
        return cls.WHISPER


class JobStatus(_StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"



class JobType(_StrEnum):
    DERIVE_MEMORY = "derive_memory"
    ACTIVITY_DISTILL = "activity_distill"
    REFLECT_PERSPECTIVE = "reflect_perspective"
    REFLECT_NAMESPACE = "reflect_namespace"
    DIGEST_SESSION = "digest_session"



class EvidenceRole(_StrEnum):
    SOURCE = "source"
    DERIVED_FROM = "derived_from"
    DIGESTED_FROM = "digested_from"
    REINFORCES = "reinforces"
    CONTRADICTS = "contradicts"
    SUPPORTS = "supports"
    INSIGHT_SUPPORT = "insight_support"
    SUPERSEDES = "supersedes"



class SearchMode(_StrEnum):
    BM25 = "bm25"
    VECTOR = "vector"
    HYBRID = "hybrid"



__all__ = [
    "COGNITIVE_LANES",
    "CognitiveLevel",
    "ConfidenceTier",
    "EvidenceRole",
    "ExclusionReason",
    "JobStatus",
    "JobType",
    "MemoryBucket",
    "MemoryCategory",
    "MemoryLaneType",
    "PerspectiveSource",
    "RelationType",
    "RuntimeMode",
    "RuntimeShutdownReason",
    "SearchMode",
]
