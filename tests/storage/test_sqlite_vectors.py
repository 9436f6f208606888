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


def test_binary_candidates_with_exact_rerank_match_exact_search(store: SQLiteStore,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    import numpy as np

    from nexus_memory.storage.sqlite import vectors

    rng = np.random.default_rng(5)
    centres = rng.normal(size=(20, 64))
    ids = [m.memory.id for m in store.store_many([NewMemory(agent=("a" if i % 3 else "b"), content=f"m{i}")
                                                  for i in range(600)])]
    data = centres[np.arange(600) % 20] + rng.normal(scale=0.5, size=(600, 64))
    store.upsert_vectors(M1, [(i, "content", v) for i, v in zip(ids, data, strict=True)])
    queries = centres[:5] + rng.normal(scale=0.3, size=(5, 64))
    for flt in (MemoryFilter(), MemoryFilter(agents=("b",)), MemoryFilter(labels=("none-has-it",))):
        exact = [store.vector_search(M1, q, flt, limit=10) for q in queries]
        monkeypatch.setattr(vectors, "BINARY_MIN_ROWS", 100)
        monkeypatch.setattr(vectors, "BINARY_RERANK", 120)
        approx = [store.vector_search(M1, q, flt, limit=10) for q in queries]
        monkeypatch.setattr(vectors, "BINARY_MIN_ROWS", 10**9)
        for e, a in zip(exact, approx, strict=True):
            assert len(a) == len(e)
            if not e:
                continue  # the label filter matches nothing either way
            assert len(set(dict(e)) & set(dict(a))) >= 9  # recall@10 >= 0.9 with a 120-row re-rank of 600
            assert all(dict(e)[m] == pytest.approx(sc) for m, sc in a if m in dict(e))  # re-rank scores are exact
        if flt.agents:
            assert all(store.get(m).agent == "b" for m, _ in approx[0])  # type: ignore[union-attr]


def test_a_selective_filter_falls_back_to_its_id_set(store: SQLiteStore) -> None:
    crowd = [m.memory.id for m in store.store_many([NewMemory(agent="x", content=f"c{i}") for i in range(5000)])]
    rare = store.store(NewMemory(agent="x", content="rare one", labels=("rare",))).memory.id
    store.upsert_vectors(M1, [(i, "content", [1.0, 0.001 * (i % 13)]) for i in crowd] + [(rare, "content", [0.0, 1.0])])
    assert store.vector_search(M1, [1, 0], MemoryFilter(labels=("rare",)), limit=3) == [(rare, pytest.approx(0.0, abs=1e-6))]


def test_a_new_process_maps_the_snapshot_and_catches_up(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import numpy as np

    from nexus_memory.storage.sqlite import vector_snapshot

    monkeypatch.setattr(vector_snapshot, "SNAPSHOT_MIN_ROWS", 50)
    db = tmp_path / "snap.db"
    rng = np.random.default_rng(1)
    first = SQLiteStore(db)
    ids = [m.memory.id for m in first.store_many([NewMemory(agent="x", content=f"m{i}") for i in range(200)])]
    first.upsert_vectors(M1, [(i, "content", rng.normal(size=8)) for i in ids])
    query = rng.normal(size=8)
    want = first.vector_search(M1, query, MemoryFilter(), limit=5)  # loads from SQLite, writes the snapshot
    assert (tmp_path / "snap.db.vectors").is_dir()

    second = SQLiteStore(db)
    assert second.vector_search(M1, query, MemoryFilter(), limit=5) == want
    matrix = second._vec_cache[M1]
    assert isinstance(matrix.data, np.memmap) and matrix.snapshot_n == 200

    # rows written after the snapshot come from SQLite; a deletion invalidates the snapshot
    new = first.store(NewMemory(agent="x", content="new")).memory.id
    first.upsert_vectors(M1, [(new, "content", query)])
    third = SQLiteStore(db)
    assert third.vector_search(M1, query, MemoryFilter(), limit=1)[0][0] == new
    assert third._vec_cache[M1].snapshot_n == 200 and third._vec_cache[M1].n == 201
    first.delete(new)
    fourth = SQLiteStore(db)
    assert fourth.vector_search(M1, query, MemoryFilter(), limit=5) == want
    assert not isinstance(fourth._vec_cache[M1].data, np.memmap)  # reloaded from SQLite
    for s in (first, second, third, fourth):
        s.close()


def test_a_damaged_snapshot_is_ignored(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from nexus_memory.storage.sqlite import vector_snapshot

    monkeypatch.setattr(vector_snapshot, "SNAPSHOT_MIN_ROWS", 10)
    db = tmp_path / "d.db"
    s1 = SQLiteStore(db)
    ids = [m.memory.id for m in s1.store_many([NewMemory(agent="x", content=f"m{i}") for i in range(20)])]
    s1.upsert_vectors(M1, [(i, "content", [1.0, i / 20]) for i in ids])
    want = s1.vector_search(M1, [1, 0], MemoryFilter(), limit=3)
    root = vector_snapshot.snapshot_root(db, M1)
    assert root is not None
    (root / "current.json").write_text("{not json")
    s2 = SQLiteStore(db)
    assert s2.vector_search(M1, [1, 0], MemoryFilter(), limit=3) == want
    s1.close()
    s2.close()


def test_a_new_database_at_the_same_path_never_uses_the_old_snapshot(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    from nexus_memory.storage.sqlite import vector_snapshot

    monkeypatch.setattr(vector_snapshot, "SNAPSHOT_MIN_ROWS", 10)
    db = tmp_path / "reset.db"
    old = SQLiteStore(db)
    ids = [m.memory.id for m in old.store_many([NewMemory(agent="x", content=f"old {i}") for i in range(20)])]
    old.upsert_vectors(M1, [(i, "content", [1.0, 0.0]) for i in ids])
    old.vector_search(M1, [1, 0], MemoryFilter(), limit=1)
    old.close()
    for suffix in ("", "-wal", "-shm"):
        (tmp_path / f"reset.db{suffix}").unlink(missing_ok=True)  # what `nexus init --reset` does
    new = SQLiteStore(db)
    ids = [m.memory.id for m in new.store_many([NewMemory(agent="x", content=f"new {i}") for i in range(20)])]
    new.upsert_vectors(M1, [(i, "content", [0.0, 1.0]) for i in ids])
    hits = new.vector_search(M1, [0, 1], MemoryFilter(), limit=1)
    assert hits[0][1] == pytest.approx(1.0, abs=1e-6)
    new.close()


def test_nearest_rows_takes_the_smallest_distances_like_a_sort() -> None:
    import numpy as np

    from nexus_memory.storage.sqlite import vectors

    rng = np.random.default_rng(7)
    dist = rng.binomial(384, 0.5, size=5000).astype(np.uint16)
    dist[:100] = 385  # masked rows sit beyond any real distance
    for count in (1, 10, 999, 4900):
        rows = vectors.nearest_rows(dist, count, 385)
        assert rows.shape[0] == count and np.unique(rows).shape[0] == count
        assert np.array_equal(np.sort(dist[rows]), np.sort(dist)[:count])
    assert not set(vectors.nearest_rows(dist, 4900, 385).tolist()) & set(range(100))
