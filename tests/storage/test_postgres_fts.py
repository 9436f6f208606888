"""PostgreSQL full-text search with a bounded cost (storage/postgres/fts.py), as on SQLite."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from nexus_memory.domain.models import MemoryFilter
from tests.storage.contract import mem

pytestmark = pytest.mark.postgres


@pytest.fixture
def store(pg_url: str) -> Iterator[Any]:
    from nexus_memory.storage.postgres import PostgresStore

    s = PostgresStore(pg_url, max_size=2)
    yield s
    s.close()


def test_small_store_is_plain_ranked_search(store: Any) -> None:
    for i in range(30):
        store.store(mem(f"note {i} " + "alpha " * (i % 5) + "beta " * (i % 3) + "filler " * (i % 7)))
    hits = store.text_search("alpha beta", MemoryFilter(), limit=50)
    with store.read() as conn:
        expected = conn.execute(
            "SELECT id, ts_rank('{0.1, 0.3, 0.5, 1.0}', search_tsv, q, 1) AS r FROM memories, "
            "(SELECT plainto_tsquery('english', 'alpha') || plainto_tsquery('english', 'beta')) AS s(q) "
            "WHERE search_tsv @@ q ORDER BY r DESC, id DESC").fetchall()
    assert [h.memory_id for h in hits] == [r["id"] for r in expected]
    assert [round(h.score, 5) for h in hits] == [round(r["r"], 5) for r in expected]


def test_common_terms_fill_by_recency_below_ranked_hits(store: Any) -> None:
    from nexus_memory.storage.postgres.fts import plan

    store.fts_budget = 8  # a term in more than 2 rows counts as common
    common = [store.store(mem(f"common word number {i}")).memory.id for i in range(20)]
    rare = [store.store(mem(f"rare zebra and common word {i}")).memory.id for i in range(2)]
    with store.read() as conn:
        assert plan(conn, ["zebra", "common"], 8) == (["zebra"], ["common"])
    hits = store.text_search("zebra common", MemoryFilter(), limit=6)
    ids = [h.memory_id for h in hits]
    assert set(ids[:2]) == set(rare)
    assert ids[2:] == list(reversed(common))[:4]
    assert len(set(ids)) == len(ids) == 6
    scores = [h.score for h in hits]
    assert scores == sorted(scores, reverse=True) and scores[-1] > 0
    assert all(h.snippet for h in hits)


def test_common_only_query_is_newest_first_and_filtered(store: Any) -> None:
    store.fts_budget = 8
    ids = [store.store(mem(f"shared term {i}", agent="codex" if i % 2 else "gemini")).memory.id for i in range(12)]
    hits = store.text_search("shared", MemoryFilter(agents=("codex",)), limit=3)
    assert [h.memory_id for h in hits] == [ids[11], ids[9], ids[7]]
    assert store.text_search("shared", MemoryFilter(agents=("nobody",))) == []


def test_missing_terms_are_ignored(store: Any) -> None:
    m = store.store(mem("present word")).memory
    assert [h.memory_id for h in store.text_search("absent present", MemoryFilter())] == [m.id]
    assert store.text_search("absent", MemoryFilter()) == []


def test_common_term_fill_widens_past_the_newest_rows_for_a_selective_filter(store: Any) -> None:
    store.fts_budget = 2  # window of the newest 40 rows first
    old = [store.store(mem(f"shared note {i}", agent="codex")).memory.id for i in range(3)]
    for i in range(150):
        store.store(mem(f"shared entry {i}", agent="gemini"))
    hits = store.text_search("shared", MemoryFilter(agents=("codex",)), limit=5)
    assert [h.memory_id for h in hits] == list(reversed(old))


def test_common_fill_puts_memories_with_every_term_first(store: Any) -> None:
    from nexus_memory.storage.postgres.fts import plan

    store.fts_budget = 8  # probing stops at 16 rows: a term in more is common
    singles = [store.store(mem(f"apple number {i}" if i % 2 else f"banana number {i}")).memory.id for i in range(40)]
    both = store.store(mem("apple and banana together")).memory.id
    singles += [store.store(mem(f"apple again {i}")).memory.id for i in range(3)]
    with store.read() as conn:
        assert plan(conn, ["apple", "banana"], 8) == ([], ["apple", "banana"])
    hits = [h.memory_id for h in store.text_search("apple banana", MemoryFilter(), limit=4)]
    assert hits == [both, *list(reversed(singles))[:3]]
