"""Value types that most commands and every hook do without, kept apart from `models` and built on first
use: creating a frozen dataclass costs a cold process about 5 M instructions, and the prompt hook paid
for seven of these without using one (bench/hook_instructions.py). `nexus_memory.domain.models` still
exports them (PEP 562), so `from nexus_memory.domain.models import Job` keeps working; modules on the
hook path import them where they are used."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from nexus_memory.domain.enums import JobStatus, MemoryCategory, MemoryLaneType, PerspectiveSource
from nexus_memory.domain.timeutil import to_iso

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
