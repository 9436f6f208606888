"""Behavioural contract of the optional VectorIndex port, shared by every backend.

A backend's test module subclasses `VectorIndexContract` and provides a `store`
fixture (a fresh, migrated store that implements MemoryStore and VectorIndex).
"""

from __future__ import annotations

from typing import Any

import pytest

from nexus_memory.domain.models import MemoryFilter, MemoryPatch, NewMemory
from nexus_memory.errors import InvalidInput

M1 = "model-one"
M2 = "model-two"


def _add(store: Any, content: str, agent: str = "alpha", labels: tuple[str, ...] = ()) -> int:
    return int(store.store(NewMemory(agent=agent, content=content, labels=labels)).memory.id)


class VectorIndexContract:
    def test_nearest_first_with_cosine_scores(self, store: Any) -> None:
        a = _add(store, "a")
        b = _add(store, "b")
        c = _add(store, "c")
        assert store.upsert_vectors(M1, [(a, "content", [1, 0, 0, 0]), (b, "content", [0.6, 0.8, 0, 0]),
                                         (c, "content", [0, 0, 1, 0])]) == 3
        hits = store.vector_search(M1, [1, 0, 0, 0], MemoryFilter(), limit=3)
        assert [h[0] for h in hits] == [a, b, c]
        assert hits[0][1] == pytest.approx(1.0, abs=1e-5)
        assert hits[1][1] == pytest.approx(0.6, abs=1e-5)
        assert hits[2][1] == pytest.approx(0.0, abs=1e-5)
        # unnormalised inputs are normalised: cosine, not dot product
        store.upsert_vectors(M1, [(c, "content", [10, 0, 0, 0])])
        scores = dict(store.vector_search(M1, [2, 0, 0, 0], MemoryFilter(), limit=3))
        assert scores[c] == pytest.approx(1.0, abs=1e-5)

    def test_a_memory_scores_its_best_kind_once(self, store: Any) -> None:
        a = _add(store, "a")
        b = _add(store, "b")
        store.upsert_vectors(M1, [(a, "content", [0, 1, 0]), (a, "context", [1, 0.1, 0]),
                                  (b, "content", [0.7, 0.7, 0])])
        hits = store.vector_search(M1, [1, 0, 0], MemoryFilter(), limit=5)
        assert [h[0] for h in hits] == [a, b]
        assert hits[0][1] > 0.99

    def test_models_are_never_mixed(self, store: Any) -> None:
        a = _add(store, "a")
        b = _add(store, "b")
        store.upsert_vectors(M1, [(a, "content", [1, 0])])
        store.upsert_vectors(M2, [(b, "content", [1, 0, 0])])
        assert [h[0] for h in store.vector_search(M1, [1, 0], MemoryFilter(), limit=5)] == [a]
        assert [h[0] for h in store.vector_search(M2, [1, 0, 0], MemoryFilter(), limit=5)] == [b]
        assert store.vector_search("unknown-model", [1, 0], MemoryFilter(), limit=5) == []
        assert store.vector_counts() == {M1: 1, M2: 1}

    def test_dimension_mismatch_is_a_clear_error(self, store: Any) -> None:
        a = _add(store, "a")
        store.upsert_vectors(M1, [(a, "content", [1, 0, 0])])
        with pytest.raises(InvalidInput, match="3-dimensional"):
            store.upsert_vectors(M1, [(a, "context", [1, 0])])
        with pytest.raises(InvalidInput, match="dimensions"):
            store.vector_search(M1, [1, 0], MemoryFilter(), limit=1)

    def test_filters_apply(self, store: Any) -> None:
        a = _add(store, "a", agent="alpha")
        b = _add(store, "b", agent="beta")
        c = _add(store, "c", agent="beta", labels=("keep",))
        store.upsert_vectors(M1, [(a, "content", [1, 0]), (b, "content", [0.9, 0.1]), (c, "content", [0.5, 0.5])])
        assert [h[0] for h in store.vector_search(M1, [1, 0], MemoryFilter(agents=("beta",)), limit=5)] == [b, c]
        assert [h[0] for h in store.vector_search(M1, [1, 0], MemoryFilter(labels=("keep",)), limit=5)] == [c]
        assert [h[0] for h in store.vector_search(M1, [1, 0], MemoryFilter(ids=(c, a)), limit=5)] == [a, c]
        store.update(a, MemoryPatch(is_active=False, is_archived=True))
        assert [h[0] for h in store.vector_search(M1, [1, 0], MemoryFilter(), limit=5)] == [b, c]
        flt = MemoryFilter(include_archived=True, include_inactive=True)
        assert [h[0] for h in store.vector_search(M1, [1, 0], flt, limit=5)] == [a, b, c]

    def test_a_selective_filter_still_finds_its_few_matches(self, store: Any) -> None:
        crowd = [_add(store, f"crowd {i}") for i in range(300)]
        few = [_add(store, f"few {i}", labels=("rare",)) for i in range(3)]
        rows = [(i, "content", [1.0, 0.01 * (n % 7)]) for n, i in enumerate(crowd)]
        rows += [(i, "content", [0.0, 1.0]) for i in few]
        store.upsert_vectors(M1, rows)
        hits = store.vector_search(M1, [1, 0], MemoryFilter(labels=("rare",)), limit=5)
        assert sorted(h[0] for h in hits) == few

    def test_deleting_a_memory_deletes_its_vectors(self, store: Any) -> None:
        a = _add(store, "a")
        b = _add(store, "b")
        store.upsert_vectors(M1, [(a, "content", [1, 0]), (b, "content", [0, 1])])
        assert len(store.vector_search(M1, [1, 0], MemoryFilter(), limit=5)) == 2
        store.delete(a)
        assert [h[0] for h in store.vector_search(M1, [1, 0], MemoryFilter(), limit=5)] == [b]
        assert store.vector_counts() == {M1: 1}

    def test_changed_content_drops_stale_vectors(self, store: Any) -> None:
        a = _add(store, "old text")
        store.upsert_vectors(M1, [(a, "content", [1, 0])])
        assert store.memories_without_vectors(M1) == []
        store.update(a, MemoryPatch(labels=("x",)))
        assert store.memories_without_vectors(M1) == []
        store.update(a, MemoryPatch(content="new text"))
        assert [m.id for m in store.memories_without_vectors(M1)] == [a]
        assert store.vector_search(M1, [1, 0], MemoryFilter(), limit=5) == []

    def test_memories_without_vectors_pages_by_id(self, store: Any) -> None:
        ids = [_add(store, f"m{i}") for i in range(5)]
        store.upsert_vectors(M1, [(ids[1], "content", [1, 0])])
        first = store.memories_without_vectors(M1, limit=2)
        assert [m.id for m in first] == [ids[0], ids[2]]
        rest = store.memories_without_vectors(M1, after_id=first[-1].id, limit=10)
        assert [m.id for m in rest] == [ids[3], ids[4]]
        assert [m.id for m in store.memories_without_vectors(M2, limit=10)] == ids

    def test_delete_vectors_by_model_and_ids(self, store: Any) -> None:
        a = _add(store, "a")
        b = _add(store, "b")
        store.upsert_vectors(M1, [(a, "content", [1, 0]), (b, "content", [0, 1])])
        store.upsert_vectors(M2, [(a, "content", [1, 0])])
        assert store.delete_vectors(model=M1, memory_ids=[a]) == 1
        assert store.vector_counts() == {M1: 1, M2: 1}
        assert store.delete_vectors(model=M2) == 1
        assert store.vector_counts() == {M1: 1}
        assert [h[0] for h in store.vector_search(M1, [1, 0], MemoryFilter(), limit=5)] == [b]

    def test_upsert_replaces_the_same_key(self, store: Any) -> None:
        a = _add(store, "a")
        b = _add(store, "b")
        store.upsert_vectors(M1, [(a, "content", [1, 0]), (b, "content", [0.8, 0.6])])
        store.upsert_vectors(M1, [(a, "content", [0, 1])])
        hits = store.vector_search(M1, [1, 0], MemoryFilter(), limit=5)
        assert [h[0] for h in hits] == [b, a]
        assert store.vector_counts() == {M1: 2}

    def test_hybrid_neighbourhood_stage_reads_sessions_and_observers(self, store: Any) -> None:
        """Issue 14's stage on this backend, with the real model: the session key and the
        observer come back from the store, a named speaker's turn wins, and a search without
        the name runs (explained as `requery`)."""
        from nexus_memory.embeddings import onnx

        if onnx.missing_packages() is not None:
            pytest.skip("the embeddings extra is not installed")
        from nexus_memory.domain.hybrid import RankingConfig
        from nexus_memory.services.embeddings import EmbeddingService
        from nexus_memory.services.memories import MemoryService, StoreRequest
        from nexus_memory.services.search import SearchQuery, SearchService

        vectors = EmbeddingService(store, onnx.OnnxEmbedder(), backend="onnx")
        memories = MemoryService(store, indexer=vectors.on_stored)
        turns = [("s1", "Bob", "Bob: I adopted a kitten from the shelter on Friday."),
                 ("s1", "Alice", "Alice: Lovely! My sister is visiting from Lisbon."),
                 ("s2", "Alice", "Alice: We adopted a puppy last week and named him Biscuit."),
                 ("s2", "Bob", "Bob: Biscuit is a great name for a dog.")]
        ids = [memories.store(StoreRequest(content=c, agent="chat", session_key=s, observer=o)).memory.id
               for s, o, c in turns]
        search = SearchService(store, vectors)
        hits = search.run(SearchQuery("What pet did Alice adopt?", limit=4)).hits
        parts = {h.memory.id: h.components for h in hits}
        assert hits[0].memory.id == ids[2]
        assert parts[ids[2]]["entity_match"] == 1.0 and parts[ids[0]]["entity_match"] == 0.0
        assert all(p["requery"] == 1.0 for p in parts.values())
        e = RankingConfig().entity_weight
        best: dict[str, set[float]] = {}
        for h in hits:
            c = h.components
            before = (c["fused_relevance"] + e * c["entity_match"]) / (1 + e)  # relevance before the session term
            assert c["session_best"] >= before - 1e-9
            best.setdefault(str(h.memory.session_key), set()).add(round(c["session_best"], 9))
        # turns of one session share its best; the sessions came back from the store
        assert set(best) == {"s1", "s2"} and all(len(v) == 1 for v in best.values())
        # the stage off: the fusion alone, nothing about names or sessions in the explanation
        plain = SearchService(store, vectors, config=RankingConfig(session_weight=0.0, entity_weight=0.0))
        for h in plain.run(SearchQuery("What pet did Alice adopt?", limit=4)).hits:
            assert not {"entity_match", "session_best", "requery"} & set(h.components)
