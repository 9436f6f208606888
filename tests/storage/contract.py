"""The behavioural contract every storage backend honours (storage/base.py).

Backend-agnostic: nothing here knows about SQL. A backend's test module provides
a `store` fixture (an empty, migrated store implementing `Store`) and subclasses
`StoreContract`; pytest then runs every test below against that backend:

    from tests.storage.contract import StoreContract

    @pytest.fixture
    def store(...) -> Iterator[Store]:
        s = PostgresStore(url); yield s; s.close()

    class TestPostgresContract(StoreContract):
        pass

The groups (`NamespaceContract`, `JobContract`, ...) can also be subclassed one
by one while a backend is being built. This module is not collected on its own
(its classes do not start with `Test`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from nexus_memory.domain.enums import CognitiveLevel, JobStatus, MemoryCategory, MemoryLaneType
from nexus_memory.domain.models import (
    CognitiveMetadata,
    Evidence,
    MemoryFilter,
    MemoryPatch,
    MemoryRelation,
    Neighbourhood,
    NewMemory,
    SessionDigest,
)
from nexus_memory.errors import Conflict, InvalidInput, NotFound
from nexus_memory.storage.base import MAX_JOB_ATTEMPTS, JobStore, MemoryStore, Store

T0 = datetime(2026, 1, 10, 12, 0, 0, tzinfo=UTC)


def cognitive(level: CognitiveLevel = CognitiveLevel.EXPLICIT, agent: str = "claude-code",
              session_key: str | None = None, **extra: Any) -> dict[str, Any]:
    """Metadata carrying a `cognitive` block, as the services write it."""
    cog = CognitiveMetadata.new(level, agent, agent, session_key, "direct")
    for key, value in extra.items():
        setattr(cog, key, value)
    return cog.merge_into({})


def mem(content: str, agent: str = "claude-code", **kw: Any) -> NewMemory:
    """A NewMemory with explicit-level cognitive metadata unless metadata is given."""
    if "metadata" not in kw:
        kw["metadata"] = cognitive(agent=agent, session_key=kw.get("session_key"))
    return NewMemory(agent=agent, content=content, **kw)


def ids_of(items: Sequence[Any]) -> list[int]:
    return [getattr(x, "id", None) or x.memory_id for x in items]


def run_threads(n: int, target: Callable[[int], Any]) -> list[Any]:
    """Run `target(i)` in n threads started together; re-raise the first error."""
    barrier = threading.Barrier(n)
    results: list[Any] = [None] * n
    errors: list[BaseException] = []

    def work(i: int) -> None:
        try:
            barrier.wait(timeout=30)
            results[i] = target(i)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    if errors:
        raise errors[0]
    return results


# --------------------------------------------------------------------------------------------
class NamespaceContract:
    def test_store_implements_both_ports(self, store: Store) -> None:
        assert isinstance(store, MemoryStore)
        assert isinstance(store, JobStore)
        assert isinstance(store.backend, str) and store.backend

    def test_ensure_namespace_creates_once(self, store: Store) -> None:
        a = store.ensure_namespace("claude-code", "claude-code")
        b = store.ensure_namespace("claude-code")
        assert a.id == b.id
        assert a.name == "claude-code"
        assert a.agent_type == "claude-code"
        assert a.created_at is not None and a.created_at.tzinfo is not None
        assert store.get_namespace("claude-code") == a
        assert store.get_namespace_by_id(a.id) == a
        assert store.get_namespace("nobody") is None
        assert store.get_namespace_by_id(a.id + 1000) is None

    def test_list_namespaces_sorted_by_name(self, store: Store) -> None:
        for name in ("gemini", "codex", "claude-code"):
            store.ensure_namespace(name)
        assert [n.name for n in store.list_namespaces()] == ["claude-code", "codex", "gemini"]

    def test_store_creates_its_namespace(self, store: Store) -> None:
        out = store.store(mem("hello", agent="qwen"))
        ns = store.get_namespace("qwen")
        assert ns is not None and out.memory.namespace_id == ns.id and out.memory.agent == "qwen"

    def test_ensure_namespace_is_race_free(self, store: Store) -> None:
        results = run_threads(8, lambda i: store.ensure_namespace("racer").id)
        assert len(set(results)) == 1
        assert [n.name for n in store.list_namespaces()].count("racer") == 1


# --------------------------------------------------------------------------------------------
class MemoryCrudContract:
    def test_store_and_get_round_trip(self, store: Store) -> None:
        out = store.store(mem(
            "The team database is PostgreSQL 15", category=MemoryCategory.FACTS,
            memory_lane_type=MemoryLaneType.DECISION, labels=("db", "infra"),
            context="asked while planning the migration", session_key="s-1",
        ))
        assert out.created is True
        m = store.get(out.memory.id)
        assert m is not None and m == out.memory
        assert m.content == "The team database is PostgreSQL 15"
        assert m.category is MemoryCategory.FACTS
        assert m.memory_lane_type is MemoryLaneType.DECISION
        assert m.labels == ("db", "infra")
        assert m.context == "asked while planning the migration"
        assert m.session_key == "s-1"
        assert m.agent == "claude-code"
        assert m.is_active and not m.is_archived
        assert m.access_count == 0
        assert m.level() is CognitiveLevel.EXPLICIT
        assert m.metadata["cognitive"]["observer"] == "claude-code"
        assert m.created_at is not None and m.created_at.tzinfo is not None

    def test_metadata_round_trips_json(self, store: Store) -> None:
        meta = {"source": "notes", "n": 3, "nested": {"list": [1, "two", None], "ok": True}, "ünï": "çødé"}
        m = store.store(mem("with metadata", metadata=meta)).memory
        got = store.get(m.id)
        assert got is not None and got.metadata == meta
        assert got.level() is CognitiveLevel.RAW  # no cognitive block means raw

    def test_explicit_created_at_is_kept(self, store: Store) -> None:
        m = store.store(mem("old memory", created_at=T0)).memory
        assert m.created_at == T0

    def test_explicit_id_is_kept(self, store: Store) -> None:
        m = store.store(mem("imported", id=4242)).memory
        assert m.id == 4242
        assert store.get(4242) is not None

    def test_empty_content_is_refused(self, store: Store) -> None:
        with pytest.raises(InvalidInput):
            store.store(mem("   \n\t "))
        assert store.count(MemoryFilter(include_raw=True, include_inactive=True, include_archived=True)) == 0

    def test_get_missing_is_none(self, store: Store) -> None:
        assert store.get(999_999) is None

    def test_get_many_keeps_order_and_skips_missing(self, store: Store) -> None:
        a, b, c = (store.store(mem(f"memory {x}")).memory.id for x in "abc")
        got = store.get_many([c, 999_999, a, b, a])
        assert [m.id for m in got] == [c, a, b]
        assert store.get_many([]) == []

    def test_neighbourhoods_read_agent_session_and_perspective_like_get_many(self, store: Store) -> None:
        cog = CognitiveMetadata(level=CognitiveLevel.EXPLICIT, observer="Melanie", subject="Caroline")
        a = store.store(NewMemory(agent="chat", content="Melanie: I painted a sunrise", session_key="conv/s3",
                                  metadata=cog.merge_into({}))).memory.id
        b = store.store(NewMemory(agent="gemini", content="no perspective at all")).memory.id
        got = store.neighbourhoods([b, 999_999, a])
        assert set(got) == {a, b}
        assert got[a] == Neighbourhood(agent="chat", session_key="conv/s3", observer="Melanie", subject="Caroline")
        assert got[b] == Neighbourhood(agent="gemini")
        assert all(got[m.id] == Neighbourhood.of(m) for m in store.get_many([a, b]))
        assert store.neighbourhoods([]) == {}

    def test_store_many_one_call(self, store: Store) -> None:
        outs = store.store_many([mem("first"), mem("second", agent="gemini"), mem("FIRST ")])
        assert [o.created for o in outs] == [True, True, False]
        assert outs[2].memory.id == outs[0].memory.id
        assert outs[1].memory.agent == "gemini"

    def test_update_fields(self, store: Store) -> None:
        m = store.store(mem("before", labels=("a",))).memory
        upd = store.update(m.id, MemoryPatch(
            content="after", category=MemoryCategory.PREFERENCES, memory_lane_type=MemoryLaneType.INSIGHT,
            labels=("x", "X", "y"), context="ctx",
        ))
        assert upd.content == "after"
        assert upd.category is MemoryCategory.PREFERENCES
        assert upd.memory_lane_type is MemoryLaneType.INSIGHT
        assert upd.labels == ("x", "y")
        assert upd.context == "ctx"
        assert upd.updated_at is not None
        assert store.get(m.id) == upd

    def test_update_clears_lane_and_metadata(self, store: Store) -> None:
        m = store.store(mem("lane", memory_lane_type=MemoryLaneType.GAP)).memory
        upd = store.update(m.id, MemoryPatch(clear_lane=True, metadata={"k": "v"}))
        assert upd.memory_lane_type is None
        assert upd.metadata == {"k": "v"}
        assert upd.level() is CognitiveLevel.RAW
        assert store.count(MemoryFilter(levels=(CognitiveLevel.RAW,))) == 1

    def test_update_missing_raises_not_found(self, store: Store) -> None:
        with pytest.raises(NotFound):
            store.update(999_999, MemoryPatch(content="x"))

    def test_update_to_empty_content_refused(self, store: Store) -> None:
        m = store.store(mem("keep me")).memory
        with pytest.raises(InvalidInput):
            store.update(m.id, MemoryPatch(content="  "))
        got = store.get(m.id)
        assert got is not None and got.content == "keep me"

    def test_update_into_duplicate_content_conflicts(self, store: Store) -> None:
        store.store(mem("one"))
        two = store.store(mem("two")).memory
        with pytest.raises(Conflict):
            store.update(two.id, MemoryPatch(content="ONE"))
        got = store.get(two.id)
        assert got is not None and got.content == "two"

    def test_soft_forget_via_update(self, store: Store) -> None:
        m = store.store(mem("forget me")).memory
        upd = store.update(m.id, MemoryPatch(is_active=False, is_archived=True))
        assert not upd.is_active and upd.is_archived
        assert store.count(MemoryFilter()) == 0
        assert store.count(MemoryFilter(include_archived=True, include_inactive=True)) == 1

    def test_delete(self, store: Store) -> None:
        m = store.store(mem("delete me")).memory
        assert store.delete(m.id) is True
        assert store.get(m.id) is None
        assert store.delete(m.id) is False

    def test_touch(self, store: Store) -> None:
        m = store.store(mem("touch me")).memory
        assert m.last_accessed is None or m.access_count == 0
        store.touch([m.id, m.id])
        store.touch([])
        got = store.get(m.id)
        assert got is not None and got.access_count == 2
        assert got.last_accessed is not None


# --------------------------------------------------------------------------------------------
class DedupContract:
    def test_same_content_merges(self, store: Store) -> None:
        first = store.store(mem("The build uses Make", labels=("Build",), session_key="s1",
                                metadata=cognitive(session_key="s1")))
        again = store.store(mem("  the BUILD uses make \n", labels=("build", "ci"), session_key="s2",
                                metadata=cognitive(session_key="s2")))
        assert first.created is True and again.created is False
        assert again.memory.id == first.memory.id
        m = again.memory
        assert m.content == "The build uses Make"  # the first spelling stays
        assert m.labels == ("Build", "ci")  # case-insensitive union, first spelling kept
        cog = CognitiveMetadata.from_metadata(m.metadata)
        assert cog is not None and cog.session_keys == ["s1", "s2"]
        assert m.access_count == 1
        assert store.count(MemoryFilter()) == 1
        third = store.store(mem("THE BUILD USES MAKE", session_key="s2", metadata=cognitive(session_key="s2")))
        assert third.memory.id == first.memory.id and third.memory.access_count == 2
        cog = CognitiveMetadata.from_metadata(third.memory.metadata)
        assert cog is not None and cog.session_keys == ["s1", "s2"]

    def test_merged_memory_found_by_either_session(self, store: Store) -> None:
        a = store.store(mem("shared fact", session_key="s1", metadata=cognitive(session_key="s1"))).memory
        store.store(mem("Shared fact", session_key="s2", metadata=cognitive(session_key="s2")))
        for key in ("s1", "s2"):
            assert [m.id for m in store.list_memories(MemoryFilter(session_key=key))] == [a.id]

    def test_dedup_is_per_namespace(self, store: Store) -> None:
        a = store.store(mem("same words", agent="codex"))
        b = store.store(mem("same words", agent="gemini"))
        assert a.created and b.created and a.memory.id != b.memory.id

    def test_inner_whitespace_and_punctuation_are_significant(self, store: Store) -> None:
        a = store.store(mem("use tabs"))
        b = store.store(mem("use  tabs"))
        c = store.store(mem("use tabs."))
        assert len({a.memory.id, b.memory.id, c.memory.id}) == 3

    def test_archived_memory_does_not_absorb_new_content(self, store: Store) -> None:
        old = store.store(mem("revived fact")).memory
        store.update(old.id, MemoryPatch(is_active=False, is_archived=True))
        new = store.store(mem("revived fact"))
        assert new.created is True and new.memory.id != old.id
        assert new.memory.is_active

    def test_concurrent_duplicates_collapse(self, store: Store) -> None:
        def work(i: int) -> int:
            return store.store(mem("Raced content", labels=(f"t{i}",))).memory.id

        ids = run_threads(8, work)
        assert len(set(ids)) == 1
        m = store.get(ids[0])
        assert m is not None
        assert m.access_count == 7
        assert sorted(m.labels) == sorted(f"t{i}" for i in range(8))
        assert store.count(MemoryFilter()) == 1


# --------------------------------------------------------------------------------------------
class FilterContract:
    @pytest.fixture
    def seeded(self, store: Store) -> dict[str, int]:
        """A small varied population; name -> id."""
        specs: dict[str, NewMemory] = {
            "fact": mem("Postgres runs on port 5432", category=MemoryCategory.FACTS, labels=("DB", "infra"),
                        session_key="sess-a", created_at=T0),
            "pref": mem("Prefers tabs over spaces", category=MemoryCategory.PREFERENCES, labels=("style",),
                        memory_lane_type=MemoryLaneType.DECISION, created_at=T0 + timedelta(days=1)),
            "gem": mem("Gemini found a flaky test", agent="gemini", labels=("tests", "infra"),
                       memory_lane_type=MemoryLaneType.EPISODIC, session_key="sess-b",
                       created_at=T0 + timedelta(days=2)),
            "derived": mem("Team standardises on Postgres", labels=("db",),
                           metadata=cognitive(CognitiveLevel.DERIVED), created_at=T0 + timedelta(days=3)),
            "raw": mem("tool call: ls -la", labels=("raw-activity",),
                       metadata=cognitive(CognitiveLevel.RAW), created_at=T0 + timedelta(days=4)),
            "rawmeta": mem("tool call: git status", metadata={"raw_activity": {"tool": "Bash"}},
                           created_at=T0 + timedelta(days=5)),
            "old": mem("An archived note", created_at=T0 + timedelta(days=6)),
        }
        ids = {name: store.store(new).memory.id for name, new in specs.items()}
        store.update(ids["old"], MemoryPatch(is_active=False, is_archived=True))
        return ids

    @staticmethod
    def listed(store: Store, flt: MemoryFilter, **kw: Any) -> set[int]:
        found = store.list_memories(flt, limit=100, **kw)
        assert store.count(flt) == len(found)
        return {m.id for m in found}

    def test_default_hides_raw_and_archived(self, store: Store, seeded: dict[str, int]) -> None:
        assert self.listed(store, MemoryFilter()) == {seeded[k] for k in ("fact", "pref", "gem", "derived")}

    def test_include_raw(self, store: Store, seeded: dict[str, int]) -> None:
        assert self.listed(store, MemoryFilter(include_raw=True)) == {
            seeded[k] for k in ("fact", "pref", "gem", "derived", "raw", "rawmeta")}

    def test_archived(self, store: Store, seeded: dict[str, int]) -> None:
        got = self.listed(store, MemoryFilter(include_archived=True, include_inactive=True))
        assert seeded["old"] in got and seeded["raw"] not in got

    def test_inactive_without_archive(self, store: Store, seeded: dict[str, int]) -> None:
        store.update(seeded["pref"], MemoryPatch(is_active=False))
        assert seeded["pref"] not in self.listed(store, MemoryFilter())
        assert seeded["pref"] in self.listed(store, MemoryFilter(include_inactive=True))

    def test_agents(self, store: Store, seeded: dict[str, int]) -> None:
        assert self.listed(store, MemoryFilter(agents=("gemini",))) == {seeded["gem"]}
        assert len(self.listed(store, MemoryFilter(agents=("gemini", "claude-code")))) == 4
        assert self.listed(store, MemoryFilter(agents=())) == set()
        assert self.listed(store, MemoryFilter(agents=("nobody",))) == set()

    def test_categories(self, store: Store, seeded: dict[str, int]) -> None:
        assert self.listed(store, MemoryFilter(categories=(MemoryCategory.FACTS,))) == {seeded["fact"]}
        both = MemoryFilter(categories=(MemoryCategory.FACTS, MemoryCategory.PREFERENCES))
        assert self.listed(store, both) == {seeded["fact"], seeded["pref"]}

    def test_labels_case_insensitive_and_all_required(self, store: Store, seeded: dict[str, int]) -> None:
        assert self.listed(store, MemoryFilter(labels=("db",))) == {seeded["fact"], seeded["derived"]}
        assert self.listed(store, MemoryFilter(labels=("INFRA",))) == {seeded["fact"], seeded["gem"]}
        assert self.listed(store, MemoryFilter(labels=("infra", "db"))) == {seeded["fact"]}
        assert self.listed(store, MemoryFilter(labels=("nope",))) == set()

    def test_lanes(self, store: Store, seeded: dict[str, int]) -> None:
        assert self.listed(store, MemoryFilter(lanes=(MemoryLaneType.DECISION,))) == {seeded["pref"]}
        two = MemoryFilter(lanes=(MemoryLaneType.DECISION, MemoryLaneType.EPISODIC))
        assert self.listed(store, two) == {seeded["pref"], seeded["gem"]}

    def test_levels(self, store: Store, seeded: dict[str, int]) -> None:
        assert self.listed(store, MemoryFilter(levels=(CognitiveLevel.DERIVED,))) == {seeded["derived"]}
        raw = MemoryFilter(levels=(CognitiveLevel.RAW,), include_raw=True)
        assert self.listed(store, raw) == {seeded["raw"], seeded["rawmeta"]}

    def test_session(self, store: Store, seeded: dict[str, int]) -> None:
        assert self.listed(store, MemoryFilter(session_key="sess-a")) == {seeded["fact"]}
        assert self.listed(store, MemoryFilter(session_key="sess-b")) == {seeded["gem"]}
        assert self.listed(store, MemoryFilter(session_key="sess-zzz")) == set()

    def test_since_until_inclusive(self, store: Store, seeded: dict[str, int]) -> None:
        since = MemoryFilter(since=T0 + timedelta(days=2))
        assert self.listed(store, since) == {seeded["gem"], seeded["derived"]}
        until = MemoryFilter(until=T0 + timedelta(days=1))
        assert self.listed(store, until) == {seeded["fact"], seeded["pref"]}
        window = MemoryFilter(since=T0 + timedelta(days=1), until=T0 + timedelta(days=2))
        assert self.listed(store, window) == {seeded["pref"], seeded["gem"]}

    def test_ids(self, store: Store, seeded: dict[str, int]) -> None:
        assert self.listed(store, MemoryFilter(ids=(seeded["fact"], seeded["raw"]))) == {seeded["fact"]}
        assert self.listed(store, MemoryFilter(ids=())) == set()

    def test_filters_combine(self, store: Store, seeded: dict[str, int]) -> None:
        flt = MemoryFilter(agents=("claude-code",), labels=("db",), levels=(CognitiveLevel.EXPLICIT,))
        assert self.listed(store, flt) == {seeded["fact"]}

    def test_orders_limit_offset(self, store: Store, seeded: dict[str, int]) -> None:
        newest = [m.id for m in store.list_memories(MemoryFilter(), limit=10)]
        assert newest == [seeded[k] for k in ("derived", "gem", "pref", "fact")]
        oldest = [m.id for m in store.list_memories(MemoryFilter(), limit=10, order="oldest")]
        assert oldest == list(reversed(newest))
        page = [m.id for m in store.list_memories(MemoryFilter(), limit=2, offset=1)]
        assert page == newest[1:3]
        assert store.list_memories(MemoryFilter(), limit=10, offset=10) == []

    def test_order_updated_and_accessed(self, store: Store, seeded: dict[str, int]) -> None:
        store.update(seeded["fact"], MemoryPatch(labels=("DB", "infra", "touched")))
        assert store.list_memories(MemoryFilter(), limit=1, order="updated")[0].id == seeded["fact"]
        store.touch([seeded["pref"], seeded["pref"]])
        assert store.list_memories(MemoryFilter(), limit=1, order="accessed")[0].id == seeded["pref"]

    def test_order_reinforced_and_contradicted(self, store: Store) -> None:
        a = store.store(mem("a", metadata=cognitive(times_reinforced=1, times_contradicted=5))).memory
        b = store.store(mem("b", metadata=cognitive(times_reinforced=9, times_contradicted=0))).memory
        assert store.list_memories(MemoryFilter(), order="reinforced")[0].id == b.id
        assert store.list_memories(MemoryFilter(), order="contradicted")[0].id == a.id

    def test_unknown_order_refused(self, store: Store) -> None:
        with pytest.raises(InvalidInput):
            store.list_memories(MemoryFilter(), order="sideways")


# --------------------------------------------------------------------------------------------
class TextSearchContract:
    def test_finds_and_ranks(self, store: Store) -> None:
        strong = store.store(mem("pgbouncer pool size is 20; the pool size matters for pgbouncer")).memory
        weak = store.store(mem("We talked about many things today, among them the pool in the garden")).memory
        store.store(mem("Nothing relevant here at all"))
        hits = store.text_search("pgbouncer pool size", MemoryFilter())
        assert [h.memory_id for h in hits][:2] == [strong.id, weak.id]
        assert len(hits) == 2
        assert hits[0].score > hits[1].score  # higher is better
        assert all(isinstance(h.score, float) for h in hits)

    def test_scores_sorted_best_first(self, store: Store) -> None:
        for i in range(12):
            store.store(mem(f"deploy note {i} " + "deploy " * (i % 4) + "filler text " * (i % 3)))
        hits = store.text_search("deploy", MemoryFilter(), limit=50)
        assert len(hits) == 12
        scores = [h.score for h in hits]
        assert scores == sorted(scores, reverse=True)

    def test_limit(self, store: Store) -> None:
        for i in range(8):
            store.store(mem(f"limit test number {i}"))
        assert len(store.text_search("limit test", MemoryFilter(), limit=3)) == 3

    def test_stemming(self, store: Store) -> None:
        m = store.store(mem("The databases were migrated")).memory
        assert [h.memory_id for h in store.text_search("database migration", MemoryFilter())] == [m.id]

    def test_case_insensitive(self, store: Store) -> None:
        m = store.store(mem("Kubernetes cluster")).memory
        assert [h.memory_id for h in store.text_search("KUBERNETES", MemoryFilter())] == [m.id]

    def test_retrieval_context_is_searchable_but_content_weighs_more(self, store: Store) -> None:
        by_ctx = store.store(mem("Use port 5433", context="question about the staging replica")).memory
        by_content = store.store(mem("The staging replica lags behind")).memory
        hits = store.text_search("staging replica", MemoryFilter())
        assert [h.memory_id for h in hits] == [by_content.id, by_ctx.id]

    def test_labels_are_searchable(self, store: Store) -> None:
        m = store.store(mem("Some note", labels=("observability",))).memory
        assert [h.memory_id for h in store.text_search("observability", MemoryFilter())] == [m.id]

    def test_any_term_matches(self, store: Store) -> None:
        a = store.store(mem("alpha only")).memory
        b = store.store(mem("beta only")).memory
        assert {h.memory_id for h in store.text_search("alpha beta", MemoryFilter())} == {a.id, b.id}

    @pytest.mark.parametrize("query", [
        'quote " inside', "AND OR NOT", "col:umn", "star*", "-minus +plus", "(paren", "NEAR(a b)",
        "^caret", "'single'", "a.b/c\\d", "emoji 🚀 text", "ünïcödé",
    ])
    def test_syntax_characters_never_error(self, store: Store, query: str) -> None:
        store.store(mem("a plain memory about text and unicode"))
        hits = store.text_search(query, MemoryFilter())
        assert isinstance(hits, list)

    @pytest.mark.parametrize("query", ["", "   ", "?!.,;", "\"\""])
    def test_no_terms_no_hits(self, store: Store, query: str) -> None:
        store.store(mem("anything"))
        assert store.text_search(query, MemoryFilter()) == []

    def test_filters_apply(self, store: Store) -> None:
        a = store.store(mem("shared term cobalt", agent="codex", category=MemoryCategory.FACTS,
                            labels=("x",))).memory
        b = store.store(mem("shared term cobalt again", agent="gemini")).memory
        raw = store.store(mem("cobalt raw", labels=("raw-activity",))).memory
        assert {h.memory_id for h in store.text_search("cobalt", MemoryFilter())} == {a.id, b.id}
        assert [h.memory_id for h in store.text_search("cobalt", MemoryFilter(agents=("codex",)))] == [a.id]
        cat = MemoryFilter(categories=(MemoryCategory.FACTS,))
        assert [h.memory_id for h in store.text_search("cobalt", cat)] == [a.id]
        assert [h.memory_id for h in store.text_search("cobalt", MemoryFilter(labels=("X",)))] == [a.id]
        with_raw = {h.memory_id for h in store.text_search("cobalt", MemoryFilter(include_raw=True))}
        assert with_raw == {a.id, b.id, raw.id}

    def test_index_follows_update_forget_and_delete(self, store: Store) -> None:
        m = store.store(mem("original wording zebra")).memory
        store.update(m.id, MemoryPatch(content="replacement wording giraffe"))
        assert store.text_search("zebra", MemoryFilter()) == []
        assert [h.memory_id for h in store.text_search("giraffe", MemoryFilter())] == [m.id]
        store.update(m.id, MemoryPatch(context="savanna"))
        assert [h.memory_id for h in store.text_search("savanna", MemoryFilter())] == [m.id]
        store.update(m.id, MemoryPatch(is_active=False, is_archived=True))
        assert store.text_search("giraffe", MemoryFilter()) == []
        archived = MemoryFilter(include_archived=True, include_inactive=True)
        assert [h.memory_id for h in store.text_search("giraffe", archived)] == [m.id]
        store.delete(m.id)
        assert store.text_search("giraffe", archived) == []

    def test_merge_adds_labels_to_index(self, store: Store) -> None:
        m = store.store(mem("merge target", labels=("one",))).memory
        store.store(mem("MERGE target", labels=("tangerine",)))
        assert [h.memory_id for h in store.text_search("tangerine", MemoryFilter())] == [m.id]


# --------------------------------------------------------------------------------------------
class StatsContract:
    def test_stats_per_namespace(self, store: Store) -> None:
        store.store(mem("c1", category=MemoryCategory.FACTS, created_at=T0))
        store.store(mem("c2", metadata=cognitive(CognitiveLevel.DERIVED), created_at=T0 + timedelta(hours=1)))
        gone = store.store(mem("c3")).memory
        store.update(gone.id, MemoryPatch(is_active=False, is_archived=True))
        store.store(mem("g1", agent="gemini"))
        store.ensure_namespace("empty")
        stats = {s.namespace_name: s for s in store.stats()}
        assert set(stats) == {"claude-code", "gemini", "empty"}
        c = stats["claude-code"]
        assert (c.total_memories, c.active_memories, c.archived_memories) == (3, 2, 1)
        assert c.categories == {"facts": 1, "general": 1}
        assert c.levels == {"explicit": 1, "derived": 1}
        assert c.oldest_memory == T0
        assert c.newest_memory is not None and c.newest_memory > T0
        e = stats["empty"]
        assert (e.total_memories, e.active_memories, e.oldest_memory) == (0, 0, None)
        assert [s.namespace_name for s in store.stats(["gemini"])] == ["gemini"]
        assert store.stats([]) == []

    def test_daily_counts(self, store: Store) -> None:
        store.store(mem("today 1"))
        store.store(mem("today 2", agent="gemini"))
        store.store(mem("long ago", created_at=T0 - timedelta(days=400)))
        counts = store.daily_counts()
        assert sum(counts.values()) == 2
        assert all(len(day) == 10 and day[4] == "-" for day in counts)
        assert sum(store.daily_counts(["gemini"]).values()) == 1
        assert store.daily_counts([]) == {}


# --------------------------------------------------------------------------------------------
class LineageContract:
    def test_relations(self, store: Store) -> None:
        a, b, c = (store.store(mem(x)).memory.id for x in ("ra", "rb", "rc"))
        r = store.add_relation(MemoryRelation(a, b, "related", 0.4, {"why": "test"}))
        assert r.id is not None and r.strength == 0.4 and r.metadata == {"why": "test"}
        again = store.add_relation(MemoryRelation(a, b, "related", 0.9))
        assert again.id == r.id and again.strength == 0.9
        store.add_relation(MemoryRelation(c, a, "supersedes"))
        rels = store.relations_for(a)
        assert [(x.source_memory_id, x.target_memory_id, x.relation_type) for x in rels] == [
            (c, a, "supersedes"), (a, b, "related")]
        assert [x.relation_type for x in store.relations_for(b)] == ["related"]
        with pytest.raises(NotFound):
            store.add_relation(MemoryRelation(a, 999_999, "related"))

    def test_relations_cascade_on_delete(self, store: Store) -> None:
        a, b = (store.store(mem(x)).memory.id for x in ("da", "db"))
        store.add_relation(MemoryRelation(a, b, "related"))
        store.delete(b)
        assert store.relations_for(a) == []

    def test_evidence_and_lineage(self, store: Store) -> None:
        s1, s2, d = (store.store(mem(x)).memory.id for x in ("src one", "src two", "derived"))
        added = store.add_evidence([Evidence(d, s1, "derived_from"), Evidence(d, s2, "derived_from"),
                                    Evidence(d, s1, "derived_from")])
        assert added == 2
        assert store.add_evidence([Evidence(d, s1, "derived_from")]) == 0
        assert store.add_evidence([Evidence(d, s1, "supports")]) == 1
        lin = store.lineage(d)
        assert {(e.derived_memory_id, e.source_memory_id, e.evidence_role) for e in lin} == {
            (d, s1, "derived_from"), (d, s2, "derived_from"), (d, s1, "supports")}
        assert all(e.id is not None and e.created_at is not None for e in lin)
        assert {e.derived_memory_id for e in store.lineage(s2)} == {d}

    def test_lineage_cascades_on_delete(self, store: Store) -> None:
        s1, s2, d = (store.store(mem(x)).memory.id for x in ("cs1", "cs2", "cd"))
        store.add_evidence([Evidence(d, s1, "derived_from"), Evidence(d, s2, "derived_from")])
        store.delete(s1)
        assert [e.source_memory_id for e in store.lineage(d)] == [s2]
        store.delete(d)
        assert store.lineage(s2) == []

    def test_store_with_lineage(self, store: Store) -> None:
        s1, s2 = (store.store(mem(x)).memory.id for x in ("raw one", "raw two"))
        out = store.store_with_lineage(mem("summary of both"), [s1, s2], "digested_from")
        assert out.created
        assert {e.source_memory_id for e in store.lineage(out.memory.id)} == {s1, s2}
        src = store.get(s1)
        assert src is not None and src.is_active  # not archived unless asked

    def test_store_with_lineage_archives_sources(self, store: Store) -> None:
        s1, s2 = (store.store(mem(x)).memory.id for x in ("act one", "act two"))
        out = store.store_with_lineage(mem("distilled"), [s1, s2, 999_999], "source", archive_sources=True)
        for sid in (s1, s2):
            src = store.get(sid)
            assert src is not None and not src.is_active and src.is_archived
            assert src.metadata["distillation"]["summary_memory_id"] == out.memory.id
        assert {e.source_memory_id for e in store.lineage(out.memory.id)} == {s1, s2}
        assert [m.id for m in store.list_memories(MemoryFilter())] == [out.memory.id]

    def test_summary_that_merges_into_a_source_is_not_archived(self, store: Store) -> None:
        """Distilling to text a source already holds merges into that source: it is the
        summary now, so it stays active and is not its own evidence (SQLite archived it)."""
        s1, s2 = (store.store(mem(x)).memory.id for x in ("same words", "other words"))
        out = store.store_with_lineage(mem("same words"), [s1, s2], "source", archive_sources=True)
        assert out.memory.id == s1 and not out.created
        kept, archived = store.get(s1), store.get(s2)
        assert kept is not None and kept.is_active and not kept.is_archived and "distillation" not in kept.metadata
        assert archived is not None and archived.is_archived
        assert [(e.derived_memory_id, e.source_memory_id) for e in store.lineage(s1)] == [(s1, s2)]

    def test_relation_keeps_a_given_creation_time(self, store: Store) -> None:
        a, b = (store.store(mem(x)).memory.id for x in ("rel at", "rel bt"))
        assert store.add_relation(MemoryRelation(a, b, "related", created_at=T0)).created_at == T0
        assert [r.created_at for r in store.relations_for(a)] == [T0]

    def test_batches_longer_than_a_statement_may_bind(self, store: Store) -> None:
        """Id lists past SQLite's old 999-parameter limit are split, order and results kept."""
        ids = [m.memory.id for m in store.store_many([mem(f"bulk note {i}") for i in range(1200)])]
        store.add_evidence([Evidence(ids[0], i, "source") for i in ids[1:]])
        assert [m.id for m in store.get_many(list(reversed(ids)))] == list(reversed(ids))
        assert len(store.lineage_batch(ids[1:], roles=["source"])) == 1199
        assert store.count(MemoryFilter(ids=tuple(ids[:1100]))) == 1100


# --------------------------------------------------------------------------------------------
class DigestMetricsContract:
    def test_digest_upsert_and_latest(self, store: Store) -> None:
        ns = store.ensure_namespace("claude-code")
        m1, m2, m3 = (store.store(mem(x)).memory.id for x in ("d1", "d2", "d3"))
        d = store.upsert_digest(SessionDigest(ns.id, "s1", "short", m1, 1, 10, 100))
        assert d.id is not None and d.token_count == 100
        same = store.upsert_digest(SessionDigest(ns.id, "s1", "short", m2, 1, 10, 150))
        assert same.id == d.id and same.memory_id == m2 and same.token_count == 150
        later = store.upsert_digest(SessionDigest(ns.id, "s1", "short", m3, 11, 20, 80))
        store.upsert_digest(SessionDigest(ns.id, "s1", "long", m1, 1, 20, 300))
        store.upsert_digest(SessionDigest(ns.id, "s2", "short", m1, 1, 5, 10))
        latest = store.latest_digest(ns.id, "short", "s1")
        assert latest is not None and latest.id == later.id and latest.end_memory_id == 20
        long = store.latest_digest(ns.id, "long")
        assert long is not None and long.token_count == 300
        assert store.latest_digest(ns.id, "short", "nope") is None
        assert len(store.list_digests(ns.id)) == 4
        assert len(store.list_digests(ns.id, "s1")) == 3
        assert len(store.list_digests(ns.id, "s1", limit=1)) == 1
        assert len(store.list_digests()) == 4

    def test_digest_goes_with_its_memory(self, store: Store) -> None:
        ns = store.ensure_namespace("claude-code")
        m = store.store(mem("digest body")).memory
        store.upsert_digest(SessionDigest(ns.id, "s1", "short", m.id, None, None, 5))
        store.delete(m.id)
        assert store.latest_digest(ns.id, "short", "s1") is None

    def test_metrics(self, store: Store) -> None:
        store.record_metrics([])
        store.record_metrics([("search.latency_ms", 12.5, {"mode": "bm25"}), ("jobs.pending", 3, {})])
        store.record_metrics([("search.latency_ms", 7.0, {"mode": "hybrid"})])
        rows = store.latest_metrics("search.")
        assert [(r[0], r[1], r[2]) for r in rows] == [
            ("search.latency_ms", 7.0, {"mode": "hybrid"}), ("search.latency_ms", 12.5, {"mode": "bm25"})]
        assert all(r[3].tzinfo is not None for r in rows)
        assert len(store.latest_metrics()) == 3
        assert len(store.latest_metrics(limit=1)) == 1

    def test_injection_ledger(self, store: Store) -> None:
        """What memory costs (issue 16): rows in, today's total per agent, per day, per session."""
        from nexus_memory.domain.costs import Injection

        def inj(agent: str, channel: str, tokens: int, session: str, day: str, **kw: Any) -> int:
            return store.record_injection(Injection(agent=agent, channel=channel, tokens=tokens, session_key=session,
                                                    day=day, **kw))

        assert store.injected_tokens("codex", "2026-12-07") == 0
        first = inj("codex", "session_pack", 800, "s1", "2026-12-06", budget=900, memory_ids=(4, 2),
                    project="/repo", source="SessionStart")
        inj("codex", "prompt_recall", 120, "s1", "2026-12-07", budget=350, memory_ids=(7,), source="UserPromptSubmit",
            query="which port?", reasons={"7": {"coverage": 0.5, "cosine": 0.71}})
        inj("codex", "prompt_recall", 60, "s2", "2026-12-07", budget=350, memory_ids=(8,), capped=True)
        inj("gemini", "mcp_results", 300, "mcp-1", "2026-12-07", memory_ids=(9, 10), source="search_memories")
        assert store.injected_tokens("codex", "2026-12-07") == 180
        assert store.injected_tokens("codex", "2026-12-06") == 800
        assert store.injected_tokens("gemini", "2026-12-07") == 300
        days = store.injection_days("2026-12-07")
        assert [(r["day"], r["agent_type"], r["channel"], r["tokens"], r["injections"], r["capped"]) for r in days] == [
            ("2026-12-07", "codex", "prompt_recall", 180, 2, 1), ("2026-12-07", "gemini", "mcp_results", 300, 1, 0)]
        assert len(store.injection_days("2026-12-01", "codex")) == 2
        sessions = store.injection_sessions("2026-12-01", "codex")
        assert [(s["session_key"], s["tokens"], s["budget"], s["injections"], s["capped"]) for s in sessions] == [
            ("s2", 60, 350, 1, 1), ("s1", 920, 1250, 2, 0)]
        assert sessions[1]["project"] == "/repo" and sessions[1]["first_at"] <= sessions[1]["last_at"]
        rows = store.injections(session_key="s1")
        assert [r.channel for r in rows] == ["session_pack", "prompt_recall"] and rows[0].id == first
        assert rows[0].memory_ids == (4, 2) and rows[0].source == "SessionStart" and not rows[0].capped
        assert rows[1].reasons == {"7": {"coverage": 0.5, "cosine": 0.71}} and rows[1].query == "which port?"
        assert rows[1].recorded_at is not None and rows[1].recorded_at.tzinfo is not None
        assert store.injections(session_key="s2")[0].capped is True
        assert [r.agent for r in store.injections(agent="gemini")] == ["gemini"]
        assert len(store.injections(limit=2)) == 2


# --------------------------------------------------------------------------------------------
class JobContract:
    @pytest.fixture
    def ns_id(self, store: Store) -> int:
        return store.ensure_namespace("claude-code").id

    def test_enqueue_if_absent(self, store: Store, ns_id: int) -> None:
        a = store.enqueue_job(ns_id, "derive_memory", {"memory_id": 1, "x": [1, 2]})
        assert isinstance(a, int)
        # same job, keys in another order: still a duplicate
        assert store.enqueue_job(ns_id, "derive_memory", {"x": [1, 2], "memory_id": 1}) is None
        assert store.enqueue_job(ns_id, "derive_memory", {"memory_id": 2}) not in (None, a)
        assert store.enqueue_job(ns_id, "digest_session", {"memory_id": 1}) is not None
        assert store.enqueue_job(ns_id, "derive_memory", {"memory_id": 1}, perspective={"observer": "x"}) is not None
        forced = store.enqueue_job(ns_id, "derive_memory", {"memory_id": 1, "x": [1, 2]}, if_absent=False)
        assert forced is not None and forced != a
        assert store.count_jobs_by_status(ns_id)["pending"] == 5

    def test_enqueue_again_after_completion(self, store: Store, ns_id: int) -> None:
        first = store.enqueue_job(ns_id, "reflect_namespace", {})
        [job] = store.claim_jobs("w1")
        assert store.enqueue_job(ns_id, "reflect_namespace", {}) is None  # running counts as present
        assert job.claim_token is not None
        store.complete_job(job.id, "w1", job.claim_token)
        second = store.enqueue_job(ns_id, "reflect_namespace", {})
        assert second is not None and second != first

    def test_claim_sets_lease(self, store: Store, ns_id: int) -> None:
        jid = store.enqueue_job(ns_id, "derive_memory", {"memory_id": 1}, perspective={"observer": "o"})
        now = datetime.now(UTC)
        [job] = store.claim_jobs("worker-a", ttl_secs=60, now=now)
        assert job.id == jid
        assert job.status is JobStatus.RUNNING
        assert job.lease_owner == "worker-a"
        assert job.claim_token
        assert job.attempts == 1
        assert job.payload == {"memory_id": 1}
        assert job.perspective == {"observer": "o"}
        assert job.lease_expires_at is not None
        assert abs((job.lease_expires_at - (now + timedelta(seconds=60))).total_seconds()) < 1
        assert store.claim_jobs("worker-b", now=now) == []  # leased: nobody else gets it

    def test_claim_order_limit_and_filters(self, store: Store, ns_id: int) -> None:
        other = store.ensure_namespace("gemini").id
        low = store.enqueue_job(ns_id, "derive_memory", {"n": 1}, priority=10)
        hi1 = store.enqueue_job(ns_id, "derive_memory", {"n": 2}, priority=200)
        hi2 = store.enqueue_job(ns_id, "derive_memory", {"n": 3}, priority=200)
        typed = store.enqueue_job(ns_id, "digest_session", {"n": 4}, priority=500)
        elsewhere = store.enqueue_job(other, "derive_memory", {"n": 5}, priority=1000)
        assert [j.id for j in store.claim_jobs("w", namespace_id=ns_id, job_type="derive_memory", limit=2)] == [
            hi1, hi2]
        assert [j.id for j in store.claim_jobs("w", job_type="digest_session")] == [typed]
        assert [j.id for j in store.claim_jobs("w", namespace_id=other)] == [elsewhere]
        assert [j.id for j in store.claim_jobs("w")] == [low]
        assert store.claim_jobs("w") == []

    def test_complete(self, store: Store, ns_id: int) -> None:
        store.enqueue_job(ns_id, "derive_memory", {})
        [job] = store.claim_jobs("w1")
        assert job.claim_token is not None
        with pytest.raises(Conflict, match="lost lease ownership"):
            store.complete_job(job.id, "w2", job.claim_token)
        with pytest.raises(Conflict, match="lost lease ownership"):
            store.complete_job(job.id, "w1", "wrong-token")
        store.complete_job(job.id, "w1", job.claim_token)
        [done] = store.list_jobs(status="completed")
        assert done.id == job.id and done.lease_owner is None and done.claim_token is None
        with pytest.raises(Conflict):
            store.complete_job(job.id, "w1", job.claim_token)  # twice
        with pytest.raises(NotFound):
            store.complete_job(999_999, "w1", "t")

    def test_fail_retries_then_fails_for_good(self, store: Store, ns_id: int) -> None:
        jid = store.enqueue_job(ns_id, "derive_memory", {})
        for attempt in range(1, MAX_JOB_ATTEMPTS + 1):
            [job] = store.claim_jobs("w")
            assert job.id == jid and job.attempts == attempt
            assert job.claim_token is not None
            after = store.fail_job(job.id, "w", job.claim_token, f"boom {attempt}")
            assert after.last_error == f"boom {attempt}"
            expected = JobStatus.FAILED if attempt == MAX_JOB_ATTEMPTS else JobStatus.PENDING
            assert after.status is expected
            assert after.lease_owner is None
        assert MAX_JOB_ATTEMPTS == 5
        assert store.claim_jobs("w") == []
        assert store.count_jobs_by_status()["failed"] == 1
        retried = store.retry_job(jid)
        assert retried.status is JobStatus.PENDING and retried.attempts == 0 and retried.last_error is None
        [job] = store.claim_jobs("w")
        assert job.attempts == 1

    def test_fail_needs_the_lease(self, store: Store, ns_id: int) -> None:
        store.enqueue_job(ns_id, "derive_memory", {})
        [job] = store.claim_jobs("w1")
        with pytest.raises(Conflict, match="lost lease ownership"):
            store.fail_job(job.id, "w2", job.claim_token or "", "nope")

    def test_retry_only_failed(self, store: Store, ns_id: int) -> None:
        jid = store.enqueue_job(ns_id, "derive_memory", {})
        assert jid is not None
        with pytest.raises(Conflict):
            store.retry_job(jid)
        with pytest.raises(NotFound):
            store.retry_job(999_999)

    def test_expired_lease_is_reclaimed_and_old_owner_loses(self, store: Store, ns_id: int) -> None:
        store.enqueue_job(ns_id, "derive_memory", {})
        now = datetime.now(UTC)
        [first] = store.claim_jobs("w1", ttl_secs=30, now=now)
        assert store.claim_jobs("w2", now=now + timedelta(seconds=29)) == []
        [second] = store.claim_jobs("w2", ttl_secs=30, now=now + timedelta(seconds=31))
        assert second.id == first.id
        assert second.lease_owner == "w2" and second.claim_token != first.claim_token
        assert second.attempts == 2
        with pytest.raises(Conflict, match="lost lease ownership"):
            store.complete_job(first.id, "w1", first.claim_token or "")
        store.complete_job(second.id, "w2", second.claim_token or "")
        assert store.count_jobs_by_status()["completed"] == 1

    def test_concurrent_claims_never_share_a_job(self, store: Store, ns_id: int) -> None:
        for i in range(40):
            store.enqueue_job(ns_id, "derive_memory", {"i": i})
        claimed = run_threads(8, lambda i: [j.id for j in store.claim_jobs(f"w{i}", limit=5)])
        flat = [jid for batch in claimed for jid in batch]
        assert len(flat) == 40 and len(set(flat)) == 40

    def test_list_and_count(self, store: Store, ns_id: int) -> None:
        other = store.ensure_namespace("gemini").id
        ids = [store.enqueue_job(ns_id, "derive_memory", {"i": i}) for i in range(3)]
        store.enqueue_job(other, "digest_session", {})
        store.claim_jobs("w", job_type="digest_session")
        assert [j.id for j in store.list_jobs()][:3] == [ids[2] + 1, ids[2], ids[1]]  # newest first
        assert len(store.list_jobs(status="pending")) == 3
        assert len(store.list_jobs(job_type="digest_session")) == 1
        assert len(store.list_jobs(namespace_id=ns_id)) == 3
        assert len(store.list_jobs(limit=2)) == 2
        assert len(store.list_jobs(offset=3)) == 1
        counts = store.count_jobs_by_status()
        assert counts == {"pending": 3, "running": 1, "completed": 0, "failed": 0}
        assert store.count_jobs_by_status(other) == {"pending": 0, "running": 1, "completed": 0, "failed": 0}


# --------------------------------------------------------------------------------------------
class CognitionSupportContract:
    """Store methods the cognition engine relies on (issue 6)."""

    def test_lineage_batch_by_ids_and_roles(self, store: Store) -> None:
        a, b, c = (store.store(mem(t)).memory.id for t in ("alpha fact", "beta fact", "gamma fact"))
        store.add_evidence([Evidence(c, a, "reinforces"), Evidence(c, b, "contradicts"), Evidence(b, a, "source")])
        rows = store.lineage_batch([a], ["reinforces", "contradicts"])
        assert [(r.derived_memory_id, r.source_memory_id, r.evidence_role) for r in rows] == [(c, a, "reinforces")]
        assert len(store.lineage_batch([a, b, c])) == 3
        assert store.lineage_batch([]) == []

    def test_update_metadata_many_moves_derived_columns(self, store: Store) -> None:
        m = store.store(mem("to be revised", session_key="s1")).memory
        meta = cognitive(CognitiveLevel.DERIVED, session_key="s1", confidence=0.5)
        assert store.update_metadata_many([(m.id, meta), (999_999, meta)]) == 1
        got = store.get(m.id)
        assert got is not None and got.level() is CognitiveLevel.DERIVED and got.confidence == 0.5
        found = store.list_memories(MemoryFilter(levels=(CognitiveLevel.DERIVED,)))
        assert [x.id for x in found] == [m.id]

    def test_prune_digests_keeps_one(self, store: Store) -> None:
        ns = store.ensure_namespace("claude-code")
        m1, m2 = (store.store(mem(t, session_key="s")).memory.id for t in ("d one", "d two"))
        old = store.upsert_digest(SessionDigest(ns.id, "s", "short", m1, m1, m1, 2))
        new = store.upsert_digest(SessionDigest(ns.id, "s", "short", m2, m1, m2, 2))
        store.upsert_digest(SessionDigest(ns.id, "s", "long", m2, m1, m2, 2))
        assert store.prune_digests(ns.id, "s", "short", keep_id=new.id or 0) == 1
        kinds = sorted((d.digest_kind, d.id) for d in store.list_digests(ns.id, "s"))
        assert ("short", old.id) not in kinds and ("short", new.id) in kinds and len(kinds) == 2

    def test_prune_jobs_removes_only_old_completed(self, store: Store) -> None:
        ns = store.ensure_namespace("claude-code")
        done = store.enqueue_job(ns.id, "digest_session", {"k": 1})
        store.enqueue_job(ns.id, "digest_session", {"k": 2})
        job = store.claim_jobs("w", job_type="digest_session", limit=1)[0]
        assert job.id == done
        store.complete_job(job.id, "w", job.claim_token or "")
        assert store.prune_jobs(datetime.now(UTC) - timedelta(days=1)) == 0
        assert store.prune_jobs(datetime.now(UTC) + timedelta(seconds=1)) == 1
        assert [j.status for j in store.list_jobs()] == [JobStatus.PENDING]


class StoreContract(
    CognitionSupportContract,
    NamespaceContract,
    MemoryCrudContract,
    DedupContract,
    FilterContract,
    TextSearchContract,
    StatsContract,
    LineageContract,
    DigestMetricsContract,
    JobContract,
):
    """Every group: subclass this as `TestXxxContract` with a `store` fixture in scope."""


__all__ = [
    "DedupContract",
    "DigestMetricsContract",
    "FilterContract",
    "JobContract",
    "LineageContract",
    "MemoryCrudContract",
    "NamespaceContract",
    "StatsContract",
    "StoreContract",
    "TextSearchContract",
    "cognitive",
    "mem",
    "run_threads",
]
