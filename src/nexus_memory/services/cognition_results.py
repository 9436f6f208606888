"""What CognitionService returns, beyond the stages' own results (ReflectResult, DeriveResult,
DistillResult, DigestResult, SoulResult, RefreshResult, DrainResult, WorkingRepresentation).

Each is a dataclass the surfaces render: `to_dict()` is the JSON a user sees over REST, MCP and
`--json` (its shape is pinned by tests/services/test_cognition_shapes.py), and the CLI's text
output reads the fields.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nexus_memory.cognition.jobs import DrainResult
from nexus_memory.cognition.monitor import ActivityMonitor
from nexus_memory.cognition.soul import SoulResult
from nexus_memory.cognition.subconscious import CacheStatus, RefreshResult
from nexus_memory.domain.models import Memory, MemoryRelation, SessionDigest
from nexus_memory.llm.gateway import LLMStatus


@dataclass(frozen=True)
class DreamCycleResult:
    """One dream cycle: what the drain did, for which agent and session."""

    drain: DrainResult
    agent_type: str
    session_key: str | None

    def to_dict(self) -> dict[str, Any]:
        return {**self.drain.to_dict(), "agent_type": self.agent_type, "session_key": self.session_key}


@dataclass(frozen=True)
class DigestView:
    """A stored digest with the text of its memory."""

    row: SessionDigest
    content: str | None

    def to_dict(self) -> dict[str, Any]:
        return {**self.row.to_dict(), "content": self.content}


@dataclass(frozen=True)
class LatestDigests:
    agent_type: str
    session_key: str | None
    short: DigestView | None
    long: DigestView | None

    def get(self, kind: str) -> DigestView | None:
        return {"short": self.short, "long": self.long}.get(kind)

    def to_dict(self) -> dict[str, Any]:
        return {"agent_type": self.agent_type, "session_key": self.session_key,
                "short": self.short.to_dict() if self.short else None,
                "long": self.long.to_dict() if self.long else None}


@dataclass(frozen=True)
class LineageLink:
    """One memory a memory came from (or that was made of it), by the role it played."""

    role: str
    id: int
    memory: Memory | None  # None when it no longer exists

    def to_dict(self) -> dict[str, Any]:
        m = self.memory
        return {"role": self.role, "id": self.id, "content": m.content[:300] if m else None,
                "level": m.level().value if m else None, "active": m.is_active if m else None}


@dataclass(frozen=True)
class Lineage:
    memory: Memory
    sources: list[LineageLink]
    derived: list[LineageLink]
    relations: list[MemoryRelation]

    def to_dict(self) -> dict[str, Any]:
        return {"memory": self.memory.to_dict(), "sources": [s.to_dict() for s in self.sources],
                "derived": [d.to_dict() for d in self.derived], "relations": [r.to_dict() for r in self.relations]}


@dataclass(frozen=True)
class NapResult:
    drain: DrainResult
    refresh: RefreshResult

    def to_dict(self) -> dict[str, Any]:
        return {"drain": self.drain.to_dict(), **self.refresh.to_dict()}


@dataclass(frozen=True)
class SoulView:
    """soul.md as it is on disk (`path` None when no config directory is set)."""

    path: Path | None
    content: str | None

    @property
    def exists(self) -> bool:
        return self.content is not None

    @property
    def bytes(self) -> int:
        return len(self.content.encode()) if self.content else 0

    def to_dict(self) -> dict[str, Any]:
        return {"path": str(self.path) if self.path else None, "exists": self.exists, "content": self.content,
                "bytes": self.bytes}


@dataclass(frozen=True)
class DeepDreamResult:
    ran: bool
    reason: str | None = None  # why it did not run
    drain: DrainResult | None = None
    pruned: dict[str, int] = field(default_factory=dict)
    soul: SoulResult | None = None

    def to_dict(self) -> dict[str, Any]:
        if not self.ran:
            return {"ran": False, "reason": self.reason}
        return {"ran": True, "drain": self.drain.to_dict() if self.drain else None, "pruned": self.pruned,
                "soul": self.soul.to_dict() if self.soul else None}


@dataclass(frozen=True)
class SubconsciousStatus:
    mode: str
    project: CacheStatus | None
    soul: SoulView
    monitor: ActivityMonitor | None
    should_deep_dream: bool
    jobs: dict[str, int]
    llm: str  # the LLM status line

    def to_dict(self) -> dict[str, Any]:
        soul = self.soul
        return {
            "mode": self.mode,
            "project": self.project.to_dict() if self.project else None,
            "soul": {"path": str(soul.path) if soul.path else None, "exists": soul.exists, "bytes": soul.bytes},
            "monitor": self.monitor.to_dict() | {"activity_log": len(self.monitor.activity_log),
                                                 "should_deep_dream": self.should_deep_dream}
            if self.monitor else None,
            "jobs": self.jobs,
            "llm": self.llm,
        }


@dataclass(frozen=True)
class LLMTestResult:
    """One tiny JSON call through the chain. Unset fields are left out of the JSON."""

    ok: bool
    error: str | None = None
    hint: str | None = None
    provider: str | None = None
    model: str | None = None
    answer: object = None  # the model's JSON answer
    latency_ms: float | None = None
    tokens: int | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"ok": self.ok}
        for key in ("error", "hint", "provider", "model", "answer", "latency_ms", "tokens"):
            value = getattr(self, key)
            if value is not None:
                out[key] = value
        return out


@dataclass(frozen=True)
class LLMReport:
    """The LLM chain's status (None when no gateway is set up) and its one-line summary."""

    status: LLMStatus | None

    @property
    def summary(self) -> str:
        if self.status is None:
            return "LLM: none configured; every stage uses its deterministic path"
        return self.status.summary()

    def to_dict(self) -> dict[str, Any]:
        if self.status is None:
            return {"configured": False, "summary": self.summary}
        return {**self.status.to_dict(), "summary": self.summary}
