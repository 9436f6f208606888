"""SQLite full-text search with a bounded cost (storage/sqlite/fts.py): common terms fill by recency."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from nexus_memory.domain.models import MemoryFilter
from nexus_memory.storage.sqlite import SQLiteStore
from nexus_memory.storage.sqlite.fts import plan
from tests.storage.contract import mem


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SQLiteStore]:
    s = SQLiteStore(tmp_path / "fts.db")
    yield s
    s.close()


def test_rank_is_configured_by_migration(store: SQLiteStore) -> None:
    assert "0002_fts_rank" in store.applied_migrations()
    row = store.conn.execute("SELECT v FROM memories_fts_config WHERE k = 'rank'").fetchone()
    assert row[0] == "bm25(1.0, 0.5, 0.3)"


def test_small_store_is_plain_bm25(store: SQLiteStore) -> None:
    for i in range(30):
        store.store(mem(f"note {i} " + "alpha " * (i % 5) + "beta " * (i % 3) + "filler " * (i % 7)))
    hits = store.text_search("alpha beta", MemoryFilter(), limit=50)
    expected = store.conn.execute(
        "SELECT rowid, -bm25(memories_fts, 1.0, 0.5, 0.3) FROM memories_fts WHERE memories_fts MATCH "
        "'\"alpha\" OR \"beta\"' ORDER BY bm25(memories_fts, 1.0, 0.5, 0.3)").fetchall()
    assert [h.memory_id for h in hits] == [r[0] for r in expected]
    assert [round(h.score, 9) for h in hits] == [round(r[1], 9) for r in expected]


def test_common_terms_fill_by_recency_below_bm25_hits(store: SQLiteStore) -> None:
    store.fts_budget = 8  # a term in more than 2 rows counts as common
    common = [store.store(mem(f"common word number {i}")).memory.id for i in range(20)]
    rare = [store.store(mem(f"rare zebra and common word {i}")).memory.id for i in range(2)]
    assert plan(store.conn, ["zebra", "common"], 8) == (["zebra"], ["common"])
    hits = store.text_search("zebra common", MemoryFilter(), limit=6)
    ids = [h.memory_id for h in hits]
    assert set(ids[:2]) == set(rare)  # BM25 hits first
    assert ids[2:] == list(reversed(common))[:4]  # then the newest common matches
    assert len(set(ids)) == len(ids) == 6
    scores = [h.score for h in hits]
    assert scores == sorted(scores, reverse=True) and scores[-1] > 0
    assert all(h.snippet for h in hits)


def test_common_only_query_is_newest_first_and_filtered(store: SQLiteStore) -> None:
    store.fts_budget = 8
    ids = [store.store(mem(f"shared term {i}", agent="codex" if i % 2 else "gemini")).memory.id for i in range(12)]
    hits = store.text_search("shared", MemoryFilter(agents=("codex",)), limit=3)
    assert [h.memory_id for h in hits] == [ids[11], ids[9], ids[7]]
    assert store.text_search("shared", MemoryFilter(agents=("nobody",))) == []


def test_missing_terms_are_ignored(store: SQLiteStore) -> None:
    m = store.store(mem("present word")).memory
    assert [h.memory_id for h in store.text_search("absent present", MemoryFilter())] == [m.id]
    assert store.text_search("absent", MemoryFilter()) == []


def test_common_fill_puts_memories_with_every_term_first(store: SQLiteStore) -> None:
    store.fts_budget = 8  # probing stops at 16 rows: a term in more is common
    singles = [store.store(mem(f"apple number {i}" if i % 2 else f"banana number {i}")).memory.id for i in range(40)]
    both = store.store(mem("apple and banana together")).memory.id  # within the newest-8 window
    singles += [store.store(mem(f"apple again {i}")).memory.id for i in range(3)]
    assert plan(store.conn, ["apple", "banana"], 8) == ([], ["apple", "banana"])
    hits = [h.memory_id for h in store.text_search("apple banana", MemoryFilter(), limit=4)]
    assert hits == [both, *list(reversed(singles))[:3]]


def test_default_count_scans_the_visible_index_and_counts_only_visible(store: SQLiteStore) -> None:
    from nexus_memory.domain.models import MemoryPatch
    from nexus_memory.storage.sql.queries import FROM, filter_sql
    from nexus_memory.storage.sqlite.dialect import SQLITE

    ids = [store.store(mem(f"note {i} about the deploy")).memory.id for i in range(5)]
    store.update(ids[0], MemoryPatch(is_archived=True))
    store.delete(ids[1])
    where, params = filter_sql(MemoryFilter(), SQLITE)
    plan_rows = store.conn.execute(f"EXPLAIN QUERY PLAN SELECT count(*) {FROM} WHERE {where}", params).fetchall()
    # filter_sql's default terms must match the partial index's WHERE word for word, or SQLite
    # reads every row of the table again (a default count at 10k memories: 0.55 -> 5.1 ms).
    assert any("idx_memories_visible" in str(r[-1]) for r in plan_rows), plan_rows
    assert store.count(MemoryFilter()) == 3
    assert store.count(MemoryFilter(include_archived=True)) == 4


def test_a_merge_that_changes_no_indexed_text_leaves_the_index_alone(store: SQLiteStore) -> None:
    """Storing the same content again merges into the memory (access count, metadata); its full-text row
    is rewritten only when content, context or labels change (migration 0070)."""
    first = store.store(mem("the staging database is db-stage-7 on port 6543", labels=("hook",)))
    writes: list[str] = []
    store.conn.set_trace_callback(lambda sql: writes.append(sql) if "memories_fts" in sql and (
        "INSERT" in sql or "DELETE" in sql or "REPLACE" in sql) else None)
    try:
        again = store.store(mem("the staging database is db-stage-7 on port 6543", labels=("hook",)))
        assert not again.created and again.memory.id == first.memory.id
        assert writes == [], writes
        relabelled = store.store(mem("the staging database is db-stage-7 on port 6543", labels=("hook", "infra")))
        assert relabelled.memory.id == first.memory.id and writes, "a new label is indexed"
    finally:
        store.conn.set_trace_callback(None)
    assert [h.memory_id for h in store.text_search("infra", MemoryFilter(), limit=5)] == [first.memory.id]
    assert [h.memory_id for h in store.text_search("6543", MemoryFilter(), limit=5)] == [first.memory.id]
