"""The serve-time deferred indexer: stores return at once, vectors arrive, stop flushes the queue."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence

from nexus_memory.background.index_thread import IndexThread
from nexus_memory.domain.models import Memory


def _memories(*ids: int) -> list[Memory]:
    return [Memory(id=i, namespace_id=1, content=f"memory {i}") for i in ids]


def test_submit_returns_before_indexing_and_batches_what_queued() -> None:
    gate = threading.Event()
    seen: list[list[int]] = []

    def slow_index(memories: Sequence[Memory]) -> None:
        gate.wait(5)
        seen.append([m.id for m in memories])

    deferred = IndexThread(slow_index).start()
    t0 = time.perf_counter()
    for i in range(1, 6):
        deferred.submit(_memories(i))
    assert time.perf_counter() - t0 < 1.0  # the caller never waited for the model
    gate.set()
    deferred.stop(timeout=5)
    assert sorted(i for batch in seen for i in batch) == [1, 2, 3, 4, 5]  # every memory, once
    assert len(seen) < 5  # what queued up while one batch ran went together


def test_stop_flushes_and_later_submits_index_in_the_caller() -> None:
    seen: list[int] = []
    deferred = IndexThread(lambda ms: seen.extend(m.id for m in ms)).start()
    deferred.submit(_memories(1, 2))
    deferred.stop(timeout=5)
    assert seen == [1, 2]
    deferred.submit(_memories(3))  # after stop: nothing is dropped
    assert seen == [1, 2, 3]


def test_coalesced_batches_a_burst_and_ends_after_the_batch_before_none() -> None:
    import queue

    from nexus_memory.background.index_thread import coalesced

    q: queue.SimpleQueue[list[int] | None] = queue.SimpleQueue()
    for item in ([1, 2], [3], [4, 5, 6], [7], None, [8]):
        q.put(item)
    # Lists are taken until a batch holds `limit` items (a list is never split); nothing after the None.
    assert list(coalesced(q, 3)) == [[1, 2, 3], [4, 5, 6], [7]]
    assert q.get_nowait() == [8]
    empty: queue.Queue[list[int] | None] = queue.Queue()
    empty.put(None)
    assert list(coalesced(empty, 3)) == []
