"""PostgreSQL-specific behaviour of the PostgresStore (the shared contract covers the rest)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from nexus_memory.domain.models import MemoryFilter, MemoryPatch, NewMemory, SessionDigest
from nexus_memory.errors import Conflict, InvalidInput, StorageError

pytestmark = pytest.mark.postgres


@pytest.fixture
def pg(pg_url: str) -> Iterator[object]:
    from nexus_memory.storage.postgres import PostgresStore

    store = PostgresStore(pg_url)
    yield store
    store.close()


def test_migrations_are_named_recorded_and_idempotent(pg_url: str) -> None:
    from nexus_memory.storage.postgres import PostgresStore

    first = PostgresStore(pg_url)
    try:
        assert first.applied_migrations()[:2] == ["0001_core", "0002_vectors"]
        assert first.migrate() == []
    finally:
        first.close()
    second = PostgresStore(pg_url)
    try:
        assert second.migrate() == []
    finally:
        second.close()


def test_dedup_merges_labels_and_session_keys(pg) -> None:  # type: ignore[no-untyped-def]
    meta = {"cognitive": {"level": "raw", "session_keys": ["s1"]}}
    a = pg.store(NewMemory(agent="codex", content="Prefer ruff", labels=("Lint",), metadata=meta, session_key="s1"))
    b = pg.store(NewMemory(agent="codex", content="  prefer RUFF ", labels=("lint", "style"), metadata=meta,
                           session_key="s2"))
    assert a.created and not b.created
    assert b.memory.id == a.memory.id
    assert b.memory.labels == ("Lint", "style")
    assert b.memory.metadata["cognitive"]["session_keys"] == ["s1", "s2"]
    assert b.memory.access_count == 1
    assert pg.count(MemoryFilter()) == 1


def test_explicit_ids_keep_the_sequence_ahead(pg) -> None:  # type: ignore[no-untyped-def]
    imported = pg.store(NewMemory(agent="codex", content="imported", id=500)).memory
    fresh = pg.store(NewMemory(agent="codex", content="fresh")).memory
    assert imported.id == 500
    assert fresh.id == 501
    with pytest.raises(Conflict, match="id 500 already exists"):
        pg.store(NewMemory(agent="codex", content="other text", id=500))


def test_update_into_a_duplicate_is_a_conflict(pg) -> None:  # type: ignore[no-untyped-def]
    pg.store(NewMemory(agent="codex", content="one"))
    two = pg.store(NewMemory(agent="codex", content="two")).memory
    with pytest.raises(Conflict, match="already has that content"):
        pg.update(two.id, MemoryPatch(content="ONE"))
    assert pg.get(two.id).content == "two"


def test_text_search_uses_stemming_and_ranks_content_over_labels(pg) -> None:  # type: ignore[no-untyped-def]
    in_labels = pg.store(NewMemory(agent="codex", content="unrelated words here", labels=("deploying",))).memory
    in_content = pg.store(NewMemory(agent="codex", content="We deployed the service on Fridays")).memory
    hits = pg.text_search("deploy", MemoryFilter())
    assert [h.memory_id for h in hits] == [in_content.id, in_labels.id]
    assert hits[0].score > hits[1].score
    assert "[deployed]" in (hits[0].snippet or "")
    pg.text_search("the of", MemoryFilter())  # stop words only: no error
    assert pg.text_search("'\"&|!():*", MemoryFilter()) == []


def test_digest_upsert_replaces_on_the_unique_key(pg) -> None:  # type: ignore[no-untyped-def]
    m1 = pg.store(NewMemory(agent="codex", content="digest one")).memory
    m2 = pg.store(NewMemory(agent="codex", content="digest two")).memory
    d1 = pg.upsert_digest(SessionDigest(m1.namespace_id, "s", "short", m1.id, None, 7, 3))
    d2 = pg.upsert_digest(SessionDigest(m1.namespace_id, "s", "short", m2.id, None, 7, 9))
    assert d1.id == d2.id and d2.memory_id == m2.id and d2.token_count == 9


def test_vectors_hnsw_cosine(pg) -> None:  # type: ignore[no-untyped-def]
    a = pg.store(NewMemory(agent="codex", content="vec a")).memory
    b = pg.store(NewMemory(agent="claude-code", content="vec b")).memory
    assert pg.upsert_vectors("m", [(a.id, "content", [1.0, 0.0, 0.0]), (b.id, "content", [0.8, 0.6, 0.0]),
                                   (b.id, "context", [1.0, 0.01, 0.0]), (99999, "content", [1.0, 0.0, 0.0])]) == 3
    hits = pg.vector_search("m", [1.0, 0.0, 0.0], MemoryFilter())
    assert [h[0] for h in hits] == [a.id, b.id]
    assert hits[0][1] == pytest.approx(1.0) and hits[1][1] > 0.99  # best kind wins
    assert pg.vector_search("m", [1.0, 0.0, 0.0], MemoryFilter(agents=("claude-code",))) == [hits[1]]
    assert pg.vector_counts() == {"m": 2}
    with pytest.raises(InvalidInput, match="3-dimensional"):
        pg.upsert_vectors("m", [(a.id, "content", [1.0, 0.0])])
    assert pg.vector_search("other-model", [1.0], MemoryFilter()) == []
    pg.delete(b.id)
    assert pg.vector_counts() == {"m": 1}


def _hnsw_indexes(pg) -> list[str]:  # type: ignore[no-untyped-def]
    with pg.read() as conn:
        return [r["indexdef"] for r in conn.execute(
            "SELECT indexdef FROM pg_indexes WHERE tablename = 'memory_vectors' AND indexdef LIKE '%%hnsw%%'"
        ).fetchall()]


def test_hnsw_index_is_built_once_enough_vectors_exist(pg) -> None:  # type: ignore[no-untyped-def]
    ids = [pg.store(NewMemory(agent="codex", content=f"vec {i}")).memory.id for i in range(30)]
    pg.upsert_vectors("m", [(mid, "content", [1.0, i / 30, (i % 7) / 7]) for i, mid in enumerate(ids)])
    exact = pg.vector_search("m", [1.0, 0.5, 0.1], MemoryFilter(), limit=5)
    assert _hnsw_indexes(pg) == []  # few vectors: searched exactly, no index yet
    assert pg.ensure_vector_index("m") is False
    assert pg.ensure_vector_index("m", min_rows=0) is True
    (indexdef,) = _hnsw_indexes(pg)
    assert "vector_cosine_ops" in indexdef and "vector(3)" in indexdef and "'m'::text" in indexdef
    assert pg.ensure_vector_index("m", min_rows=0) is True  # idempotent
    with pg.read() as conn:
        conn.execute("SET enable_seqscan = off")
        plan = " ".join(r["QUERY PLAN"] for r in conn.execute(
            "EXPLAIN SELECT memory_id FROM memory_vectors WHERE model = 'm' "
            "ORDER BY (embedding::vector(3)) <=> '[1,0.5,0.1]'::vector(3) LIMIT 5").fetchall())
        conn.execute("RESET enable_seqscan")
    assert "idx_vec_hnsw_" in plan
    assert [h[0] for h in pg.vector_search("m", [1.0, 0.5, 0.1], MemoryFilter(), limit=5)] == [h[0] for h in exact]


def test_unreachable_server_is_one_clear_error() -> None:
    from nexus_memory.storage.postgres import PostgresStore

    with pytest.raises(StorageError, match="cannot reach the PostgreSQL database") as info:
        PostgresStore("postgresql://nobody:secret@127.0.0.1:1/none?connect_timeout=2")
    assert "secret" not in str(info.value)


def test_default_count_can_use_the_visible_index(pg) -> None:  # type: ignore[no-untyped-def]
    from nexus_memory.storage.postgres.dialect import POSTGRES
    from nexus_memory.storage.sql.queries import FROM, filter_sql

    ids = [pg.store(NewMemory(agent="codex", content=f"count me {i}")).memory.id for i in range(4)]
    pg.update(ids[0], MemoryPatch(is_archived=True))
    where, params = filter_sql(MemoryFilter(), POSTGRES)
    with pg.read() as conn:
        conn.execute("SET enable_seqscan = off")
        plan = " ".join(r["QUERY PLAN"] for r in conn.execute(
            f"EXPLAIN SELECT count(*) AS n {FROM} WHERE {where}", params).fetchall())
        conn.execute("RESET enable_seqscan")
    assert "idx_memories_visible" in plan, plan  # filter_sql's terms imply the partial index's WHERE
    assert pg.count(MemoryFilter()) == 3
