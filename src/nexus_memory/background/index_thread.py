"""Store-time embedding off the request path, for `nexus serve`.

A server answering many clients on two cores should not make every store wait for the model:
the memory is committed (and found by BM25) at once, and a single background thread embeds new
memories in small batches moments later. Searches then only wait, at most, for one small
background chunk on the embedder (foreground calls go first, see embeddings/onnx.py).
Nothing is lost if the process dies before a batch is embedded: `nexus embeddings backfill`
finds memories without vectors.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Protocol, TypeVar

from nexus_memory.domain.models import Memory

#: Memories embedded together at most (one model call, split into background chunks).
MAX_BATCH = 32

T = TypeVar("T", covariant=True)


class ListQueue(Protocol[T]):
    """A queue.Queue or queue.SimpleQueue of item lists (None ends it)."""

    def get(self) -> Sequence[T] | None: ...

    def get_nowait(self) -> Sequence[T] | None: ...


def coalesced(source: ListQueue[T], limit: int) -> Iterator[list[T]]:
    """Batches from a queue of item lists: wait for one list, then take whatever is already queued,
    up to `limit` items (a burst becomes one batch). Ends at a None, after the batch before it."""
    while True:
        first = source.get()
        if first is None:
            return
        batch, done = list(first), False
        while len(batch) < limit:
            try:
                more = source.get_nowait()
            except queue.Empty:
                break
            if more is None:
                done = True
                break
            batch.extend(more)
        yield batch
        if done:
            return


class IndexThread:
    """`submit` is MemoryService's indexer hook: it queues and returns; one thread embeds."""

    def __init__(self, index: Callable[[Sequence[Memory]], None], *, max_batch: int = MAX_BATCH) -> None:
        self._index = index
        self._max_batch = max(1, max_batch)
        self._queue: queue.Queue[Sequence[Memory] | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        self.batches = 0
        self.indexed = 0

    def start(self) -> IndexThread:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="nexus-deferred-index", daemon=True)
            self._thread.start()
        return self

    def submit(self, memories: Sequence[Memory]) -> None:
        if memories:
            if self._thread is None:
                self._index(memories)  # not started (or stopped): index in the caller, lose nothing
            else:
                self._queue.put(list(memories))

    def pending(self) -> int:
        return self._queue.qsize()

    def stop(self, timeout: float = 10.0) -> None:
        """Embed what is queued (bounded by `timeout`), then end the thread."""
        thread, self._thread = self._thread, None
        if thread is None:
            return
        self._queue.put(None)
        thread.join(timeout)

    def _run(self) -> None:
        for batch in coalesced(self._queue, self._max_batch):
            self._index(batch)  # EmbeddingService.on_stored never raises
            self.batches += 1
            self.indexed += len(batch)
