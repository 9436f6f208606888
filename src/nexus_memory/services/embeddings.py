"""EmbeddingService: keeps stored memories' vectors on the configured model and
answers vector queries for SearchService (it is the `VectorSearcher`).

- New memories are embedded right after they are stored (one batch per
  `store_many`); a failure there is recorded, never raised: the memory is
  already stored and `nexus embeddings backfill` picks it up later.
- Raw hook activity is not embedded on store (the hook path must stay cheap);
  backfill covers it.
- Vectors carry their model id; search only ever asks for the configured one.
"""

from __future__ import annotations

import json
import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from nexus_memory.domain.models import Memory, MemoryFilter
from nexus_memory.domain.retrieval import vector_texts
from nexus_memory.embeddings.base import Embedder, LazyEmbedder
from nexus_memory.errors import NexusError, NotAvailable
from nexus_memory.storage.base import MemoryStore, VectorIndex

if TYPE_CHECKING:
    from nexus_memory.services.reports import EmbeddingStatus


def _warn(message: str, *args: object) -> None:
    """Logging is imported on the first warning only: it costs every cold start ~2 ms."""
    import logging

    logging.getLogger(__name__).warning(message, *args)

Progress = Callable[[int, int], None]
BATCH_SIZE = 64
QUERY_CACHE_SIZE = 128


class EmbeddingRun(NamedTuple):  # a tuple: built for a fraction of a frozen dataclass's cost
    """What a backfill or rebuild did."""

    model: str
    embedded: int
    vectors: int
    failed: int
    remaining: int
    resumed: bool = False
    pruned: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {"model": self.model, "embedded": self.embedded, "vectors": self.vectors, "failed": self.failed,
                "remaining": self.remaining, "resumed": self.resumed, "pruned": self.pruned}


class EmbeddingService:
    def __init__(self, store: MemoryStore, embedder: Embedder | None, *, backend: str = "none",
                 checkpoint_path: Path | None = None, database_label: str = "") -> None:
        self.db = store
        self.embedder = embedder
        self.backend = backend
        self.index: VectorIndex | None = store if isinstance(store, VectorIndex) else None
        self.checkpoint_path = checkpoint_path
        self.database_label = database_label
        self.store_errors = 0
        self.last_error: str | None = None
        self._queries: OrderedDict[str, list[float]] = OrderedDict()
        self._lock = threading.Lock()

    # availability ---------------------------------------------------------------
    @property
    def model_id(self) -> str | None:
        return self.embedder.model_id if self.embedder is not None else None

    def unavailable_reason(self) -> str | None:
        if self.embedder is None:
            return "no embedding model is configured (NEXUS_EMBEDDING_BACKEND=none)"
        if self.index is None:
            return f"the {getattr(self.db, 'backend', '?')} storage backend cannot store vectors"
        if isinstance(self.embedder, LazyEmbedder):
            return self.embedder.unavailable_reason()
        return None

    def available(self) -> bool:
        return self.unavailable_reason() is None

    def _require(self) -> tuple[Embedder, VectorIndex]:
        reason = self.unavailable_reason()
        if reason or self.embedder is None or self.index is None:
            raise NotAvailable(reason or "embeddings are not available",
                               hint="install 'nexus-memory[embeddings]' and set NEXUS_EMBEDDING_BACKEND=onnx")
        return self.embedder, self.index

    # search (the VectorSearcher protocol) ---------------------------------------
    def embed_query(self, text: str) -> list[float]:
        embedder, _ = self._require()
        with self._lock:
            cached = self._queries.get(text)
            if cached is not None:
                self._queries.move_to_end(text)
                return cached
        vector = embedder.embed([text])[0]
        with self._lock:
            self._queries[text] = vector
            if len(self._queries) > QUERY_CACHE_SIZE:
                self._queries.popitem(last=False)
        return vector

    def clear_query_cache(self) -> None:
        """Forget cached query vectors (benchmarks time the query embedding too)."""
        with self._lock:
            self._queries.clear()

    def search(self, text: str, flt: MemoryFilter, limit: int) -> list[tuple[int, float]]:
        embedder, index = self._require()
        return index.vector_search(embedder.model_id, self.embed_query(text), flt, limit=limit)

    def vectors_for(self, memories: Sequence[Memory]) -> dict[int, Sequence[float]]:
        """Content vectors of these memories under the configured model (cognition's
        clustering); empty when no model is usable, so callers fall back to text rules."""
        if not memories or not self.available():
            return {}
        embedder, _ = self._require()
        # Stored content vectors are the same normalised embedding: reuse them, embed only the rest.
        # (Re-embedding every candidate made each background dream hold the model for seconds.)
        found = self._stored_content_vectors(memories, embedder.model_id)
        missing = [m for m in memories if m.id not in found]
        if missing:
            try:
                vectors = embedder.embed([m.content for m in missing])
            except (NexusError, OSError, RuntimeError, ValueError) as exc:
                self.last_error = str(exc)
                return {}
            found.update((m.id, v) for m, v in zip(missing, vectors, strict=True))
        return {m.id: found[m.id] for m in memories if m.id in found}

    def _stored_content_vectors(self, memories: Sequence[Memory], model: str) -> dict[int, Sequence[float]]:
        reader = getattr(self.db, "vectors_of", None)
        if reader is None:
            return {}
        try:
            rows = reader([m.id for m in memories])
        except NexusError:
            return {}
        out: dict[int, Sequence[float]] = {}
        for memory_id, items in rows.items():
            for row_model, kind, vector in items:
                if row_model == model and kind == "content":
                    out[memory_id] = vector
        return out

    # indexing ---------------------------------------------------------------------
    def index_memories(self, memories: Sequence[Memory]) -> int:
        """Embed and store every vector kind of these memories in one batch; returns vectors written."""
        embedder, index = self._require()
        rows: list[tuple[int, str]] = []
        texts: list[str] = []
        for memory in memories:
            for kind, text in vector_texts(memory.content, memory.context):
                rows.append((memory.id, kind))
                texts.append(text)
        if not texts:
            return 0
        vectors = embedder.embed(texts)
        return index.upsert_vectors(embedder.model_id, [(mid, kind, vec) for (mid, kind), vec in zip(rows, vectors, strict=True)])

    def on_stored(self, memories: Sequence[Memory]) -> None:
        """MemoryService's indexer hook: embed new or changed memories; never raises."""
        if self.embedder is None or self.index is None:
            return
        todo = [m for m in memories if m.is_active and not m.is_raw_activity]
        if todo:
            self.index_safely(todo)

    def index_safely(self, memories: Sequence[Memory]) -> int:
        """`index_memories` that counts a failure instead of raising (backfill retries); vectors written."""
        if not memories or not self.available():
            return 0
        try:
            return self.index_memories(memories)
        except (NexusError, OSError, RuntimeError, ValueError) as exc:
            self.store_errors += 1
            self.last_error = str(exc)
            _warn("embedding %d memories failed (backfill will retry): %s", len(memories), exc)
            return 0

    # maintenance --------------------------------------------------------------------
    def status(self) -> EmbeddingStatus:
        from nexus_memory.services.reports import EmbeddingStatus

        counts = self.index.vector_counts() if self.index is not None else {}
        active = self.db.count(MemoryFilter(include_raw=True))
        model = self.model_id
        missing = None
        if model and self.index is not None:
            missing = self._count_missing()
        return EmbeddingStatus(
            backend=self.backend, model=model,
            dimension=self.embedder.dimension if self.embedder is not None else None,
            available=self.available(), reason=self.unavailable_reason(), active_memories=active,
            with_vectors=counts.get(model, 0) if model else 0, missing=missing, models=counts,
            rebuild_in_progress=self._checkpoint() is not None, kernel=self._kernel())

    def _kernel(self) -> dict[str, Any] | None:
        details = getattr(self.embedder, "details", None)
        return details() if callable(details) else None

    def missing_ids(self, after_id: int = 0) -> Iterator[int]:
        """Ids (above `after_id`) of active memories without a vector of the configured model, in id order, paged."""
        model = self.model_id
        if model is None or self.index is None:
            return
        after = after_id
        while True:
            page = self.index.memories_without_vectors(model, after_id=after, limit=2000)
            yield from (m.id for m in page)
            if len(page) < 2000:
                return
            after = page[-1].id

    def newest_id(self) -> int:
        """The id of the newest active memory (0 when there is none): where a tail scan can start next time."""
        newest = self.db.list_memories(MemoryFilter(include_raw=True), limit=1, order="newest")
        return newest[0].id if newest else 0

    def _count_missing(self) -> int:
        return sum(1 for _ in self.missing_ids())

    def backfill(self, *, batch_size: int = BATCH_SIZE, progress: Progress | None = None,
                 max_memories: int | None = None) -> EmbeddingRun:
        """Embed every active memory that lacks a vector of the configured model.

        Resumable by construction: it only ever looks for what is still missing."""
        embedder, index = self._require()
        total = self._count_missing()
        if max_memories is not None:
            total = min(total, max_memories)
        done = vectors = failed = 0
        after = 0
        if progress:
            progress(0, total)
        while max_memories is None or done + failed < max_memories:
            want = batch_size if max_memories is None else min(batch_size, max_memories - done - failed)
            page = index.memories_without_vectors(embedder.model_id, after_id=after, limit=want)
            if not page:
                break
            after = page[-1].id
            try:
                vectors += self.index_memories(page)
                done += len(page)
            except NotAvailable:
                raise
            except (NexusError, ValueError) as exc:
                failed += self._one_by_one(page, exc)
                done += len(page)
            if progress:
                progress(min(done, total), total)
        remaining = self._count_missing()
        return EmbeddingRun(embedder.model_id, done - failed, vectors, failed, remaining)

    def _one_by_one(self, page: Sequence[Memory], exc: Exception) -> int:
        """A batch failed: retry each memory alone so one bad text does not block the rest."""
        _warn("an embedding batch failed (%s); retrying one by one", exc)
        failed = 0
        for memory in page:
            try:
                self.index_memories([memory])
            except (NexusError, ValueError) as one:
                failed += 1
                self.last_error = f"memory {memory.id}: {one}"
        return failed

    def rebuild(self, *, batch_size: int = BATCH_SIZE, progress: Progress | None = None,
                restart: bool = False, prune_other_models: bool = False) -> EmbeddingRun:
        """Re-embed every memory with the configured model (after a model or text-rule change).

        Drops the model's vectors, then backfills. A checkpoint file marks the rebuild
        as started, so running it again after an interruption resumes instead of
        dropping the vectors it already rebuilt; `restart` starts over."""
        embedder, index = self._require()
        checkpoint = self._checkpoint()
        resumed = checkpoint is not None and checkpoint.get("model") == embedder.model_id and not restart
        if not resumed:
            self._write_checkpoint({"model": embedder.model_id, "database": self.database_label})
            index.delete_vectors(model=embedder.model_id)
        run = self.backfill(batch_size=batch_size, progress=progress)
        pruned = 0
        if prune_other_models:
            for model in index.vector_counts():
                if model != embedder.model_id:
                    pruned += index.delete_vectors(model=model)
        if run.remaining == 0 and run.failed == 0:
            self._clear_checkpoint()
        return run._replace(resumed=resumed, pruned=pruned)

    # checkpoint file -----------------------------------------------------------------
    def _checkpoint(self) -> dict[str, Any] | None:
        if self.checkpoint_path is None or not self.checkpoint_path.is_file():
            return None
        try:
            data = json.loads(self.checkpoint_path.read_text("utf-8"))
        except (OSError, ValueError):
            return None
        if not isinstance(data, dict) or data.get("database") != self.database_label:
            return None
        return data

    def _write_checkpoint(self, data: dict[str, Any]) -> None:
        if self.checkpoint_path is None:
            return
        self.checkpoint_path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.checkpoint_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data), "utf-8")
        os.replace(tmp, self.checkpoint_path)

    def _clear_checkpoint(self) -> None:
        if self.checkpoint_path is not None:
            try:
                self.checkpoint_path.unlink()
            except FileNotFoundError:
                pass
