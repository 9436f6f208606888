"""The SQLite VectorIndex: the shared contract plus cache behaviour across processes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from nexus_memory.domain.models import MemoryFilter, NewMemory
from nexus_memory.storage.base import VectorIndex
from nexus_memory.storage.sqlite import SQLiteStore
from tests.storage.vector_contract import M1, VectorIndexContract

pytest.importorskip("numpy")


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SQLiteStore]:
    s = SQLiteStore(tmp_path / "v.db")
    yield s
    s.close()


class TestSQLiteVectorIndex(VectorIndexContract):
    pass


def test_sqlite_store_implements_the_port(store: SQLiteStore) -> None:
    assert isinstance(store, VectorIndex)
    assert "0010_vectors" in store.applied_migrations()


def test_writes_from_another_connection_reach_the_cached_matrix(tmp_path: Path) -> None:
    reader = SQLiteStore(tmp_path / "shared.db")
    writer = SQLiteStore(tmp_path / "shared.db")
    try:
        a = writer.store(NewMemory(agent="x", content="a")).memory.id
        writer.upsert_vectors(M1, [(a, "content", [1, 0])])
        assert [h[0] for h in reader.vector_search(M1, [1, 0], MemoryFilter(), limit=5)] == [a]
        b = writer.store(NewMemory(agent="x", content="b")).memory.id
        writer.upsert_vectors(M1, [(b, "content", [1, 0.1])])  # appended: cache extended
        assert [h[0] for h in reader.vector_search(M1, [1, 0], MemoryFilter(), limit=5)] == [a, b]
        writer.delete(a)  # deletion: cache reloaded
        assert [h[0] for h in reader.vector_search(M1, [1, 0], MemoryFilter(), limit=5)] == [b]
        writer.upsert_vectors(M1, [(b, "content", [0, 1])])  # replaced in place
        hit = reader.vector_search(M1, [1, 0], MemoryFilter(), limit=5)
        assert hit[0][0] == b and hit[0][1] == pytest.approx(0.0, abs=1e-6)
    finally:
        reader.close()
        writer.close()


def test_upsert_records_the_model_on_the_memory(store: SQLiteStore) -> None:
    a = store.store(NewMemory(agent="x", content="a")).memory.id
    store.upsert_vectors(M1, [(a, "content", [3, 4])])
    memory = store.get(a)
    assert memory is not None and memory.embedding_model == M1
    assert store.get_vectors(a, M1)["content"] == pytest.approx([0.6, 0.8])


def test_vectors_of_a_missing_memory_are_skipped(store: SQLiteStore) -> None:
    assert store.upsert_vectors(M1, [(12345, "content", [1, 0])]) == 0
    assert store.vector_counts() == {}


def test_numpy_vectors_take_the_fast_path_with_the_same_result(store: SQLiteStore) -> None:
    import numpy as np

    a = store.store(NewMemory(agent="x", content="a")).memory.id
    b = store.store(NewMemory(agent="x", content="b")).memory.id
    store.upsert_vectors(M1, [(a, "content", np.asarray([3.0, 4.0], dtype=np.float32)), (b, "content", [3.0, 4.0])])
    assert store.get_vectors(a, M1) == store.get_vectors(b, M1)
    assert store.get_vectors(a, M1)["content"] == pytest.approx([0.6, 0.8])
