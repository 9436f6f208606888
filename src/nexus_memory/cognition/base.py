"""What every stage needs, handed over once by the service: store, settings, LLM gateway, clock, vectors."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from nexus_memory.config import CognitionSettings
from nexus_memory.domain.enums import CognitiveLevel, MemoryCategory, MemoryLaneType
from nexus_memory.domain.models import CognitiveMetadata, Memory, NewMemory, PerspectiveKey
from nexus_memory.domain.redaction import redact_text, redact_value
from nexus_memory.domain.timeutil import Clock, utcnow
from nexus_memory.llm.gateway import LLMGateway
from nexus_memory.storage.base import Store

#: memories -> {memory id: embedding vector}; empty when no embedder or vectors exist.
VectorSource = Callable[[Sequence[Memory]], dict[int, Sequence[float]]]


@dataclass
class StageDeps:
    store: Store
    settings: CognitionSettings = field(default_factory=CognitionSettings)
    llm: LLMGateway | None = None
    clock: Clock = utcnow
    vectors: VectorSource | None = None

    def llm_json(self, stage: str, system: str, user: str, *, max_tokens: int, temperature: float,
                 job_id: int | None = None) -> dict[str, Any] | None:
        if self.llm is None:
            return None
        return self.llm.complete_json(stage, system, user, max_tokens=max_tokens, temperature=temperature,
                                      job_id=job_id)


def cognitive(level: CognitiveLevel, perspective: PerspectiveKey, stage: str, *, confidence: float | None,
              generated_by: str, sources: Sequence[int] = (), now: datetime | None = None,
              times_reinforced: int = 0, times_contradicted: int = 0) -> CognitiveMetadata:
    cog = CognitiveMetadata.new(level, perspective.observer, perspective.subject, perspective.session_key, stage)
    cog.confidence = confidence
    cog.generated_by = generated_by
    cog.source_memory_ids = list(sources)
    cog.derived_at = now or utcnow()
    cog.times_reinforced = times_reinforced
    cog.times_contradicted = times_contradicted
    return cog


def new_memory(agent: str, content: str, cog: CognitiveMetadata, *, category: MemoryCategory,
               labels: Sequence[str], lane: MemoryLaneType | None = None,
               extra: dict[str, Any] | None = None) -> NewMemory:
    """A stage's output memory: redacted text, cognitive metadata merged into `extra`."""
    metadata = cog.merge_into(redact_value(dict(extra or {})))
    return NewMemory(agent=agent, content=redact_text(content).strip(), category=category, memory_lane_type=lane,
                     labels=tuple(dict.fromkeys(labels)), metadata=metadata, session_key=cog.session_key)


def perspective_of(memory: Memory, fallback: PerspectiveKey) -> PerspectiveKey:
    cog = memory.cognitive
    p = cog.perspective() if cog else None
    return p or fallback


def shorten(text: str, limit: int) -> str:
    flat = " ".join(text.split())
    if len(flat) <= limit:
        return flat
    cut = flat[:limit].rsplit(" ", 1)[0]
    return (cut or flat[:limit]).rstrip(",;:") + "…"
