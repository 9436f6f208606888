"""Result types of the memory and embedding services that no hot path builds.

Kept apart and imported where they are made: defining a dataclass costs CPU at import time (about
1 ms for these two), and a cold `nexus store` or hook imports services/memories.py and
services/embeddings.py but never asks for a namespace summary or the embedding status.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from nexus_memory.domain.models import AgentNamespace


@dataclass(frozen=True, slots=True)
class NamespaceSummary:
    """An agent namespace and how many active memories it holds."""

    namespace: AgentNamespace
    memory_count: int

    @property
    def name(self) -> str:
        return self.namespace.name

    def to_dict(self) -> dict[str, Any]:
        return {**self.namespace.to_dict(), "memory_count": self.memory_count}


@dataclass(frozen=True, slots=True)
class EmbeddingStatus:
    """The configured model and how many memories have its vectors (`nexus embeddings status`)."""

    backend: str
    model: str | None
    dimension: int | None
    available: bool
    reason: str | None
    active_memories: int
    with_vectors: int
    missing: int | None  # None when it cannot be counted (no model or no vector index)
    models: dict[str, int]  # vectors per model id
    rebuild_in_progress: bool
    kernel: dict[str, object] | None  # the local model's kernel choice (onnx only)

    @property
    def other_models(self) -> dict[str, int]:
        return {m: n for m, n in self.models.items() if m != self.model}

    def to_dict(self) -> dict[str, Any]:
        return {
            "backend": self.backend, "model": self.model, "dimension": self.dimension, "available": self.available,
            "reason": self.reason, "active_memories": self.active_memories, "with_vectors": self.with_vectors,
            "missing": self.missing, "models": self.models, "other_models": self.other_models,
            "rebuild_in_progress": self.rebuild_in_progress, "kernel": self.kernel,
        }
