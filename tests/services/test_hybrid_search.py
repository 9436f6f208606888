"""SearchService + EmbeddingService on a real SQLite file with the real MiniLM model."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from nexus_memory.domain.enums import SearchMode
from nexus_memory.domain.hybrid import RankingConfig
from nexus_memory.domain.models import MemoryFilter, NewMemory
from nexus_memory.embeddings import onnx
from nexus_memory.errors import NotAvailable
from nexus_memory.services.embeddings import EmbeddingService
from nexus_memory.services.memories import MemoryService, StoreRequest
from nexus_memory.services.search import SearchQuery, SearchService
from nexus_memory.storage.sqlite import SQLiteStore

pytestmark = pytest.mark.skipif(onnx.missing_packages() is not None, reason="the embeddings extra is not installed")

NOTES = [
    "The staging database listens on port 5433, not the default.",
    "Alice prefers tabs over spaces in every Python file.",
    "Deploys to production happen on Tuesdays after the standup.",
    "Bob is allergic to peanuts, so no satay at the team lunch.",
    "The CI cache is keyed by the lock file hash.",
]


@pytest.fixture(scope="module")
def model() -> onnx.OnnxEmbedder:
    return onnx.OnnxEmbedder()


class Counting:
    """The real model, counting calls and optionally failing after a number of them."""

    def __init__(self, inner: onnx.OnnxEmbedder, fail_after: int | None = None) -> None:
        self.inner = inner
        self.calls: list[int] = []
        self.fail_after = fail_after

    @property
    def model_id(self) -> str:
        return self.inner.model_id

    @property
    def dimension(self) -> int:
        return self.inner.dimension

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        if self.fail_after is not None and len(self.calls) >= self.fail_after:
            raise NotAvailable("the model went away", hint="test")
        self.calls.append(len(texts))
        return self.inner.embed(texts)


@dataclass
class Stack:
    store: SQLiteStore
    embedder: Counting
    vectors: EmbeddingService
    memories: MemoryService
    search: SearchService


@pytest.fixture
def stack(tmp_path: Path, model: onnx.OnnxEmbedder) -> Iterator[Stack]:
    store = SQLiteStore(tmp_path / "h.db")
    embedder = Counting(model)
    vectors = EmbeddingService(store, embedder, backend="onnx", checkpoint_path=tmp_path / "ckpt.json",
                               database_label="h.db")
    memories = MemoryService(store, indexer=vectors.on_stored)
    yield Stack(store, embedder, vectors, memories, SearchService(store, vectors))
    store.close()


def test_hybrid_finds_a_paraphrase_bm25_misses_and_explains_it(stack: Stack) -> None:
    stack.memories.store_many([StoreRequest(content=t) for t in NOTES])
    assert stack.embedder.calls == [len(NOTES)]  # one batch for store_many
    query = "which food allergy does anyone have"
    assert stack.search.run(SearchQuery(query, mode=SearchMode.BM25)).hits == []
    outcome = stack.search.run(SearchQuery(query, limit=3))
    assert outcome.mode is SearchMode.HYBRID and outcome.model == onnx.MODEL_ID and outcome.note is None
    top = outcome.hits[0]
    assert "peanuts" in top.memory.content
    for key in ("cosine", "vector_rank", "bm25_norm", "cosine_norm", "relevance", "confidence", "recency", "prior",
                "penalty", "score"):
        assert key in top.components
    assert top.to_dict(explain=True)["explain"]["score"] == pytest.approx(top.score, abs=1e-6)


def test_a_turn_that_only_asks_ranks_below_one_that_tells_and_explain_shows_why(stack: Stack) -> None:
    turns = ["Melanie: camping at the beach with the kids?", "Melanie: camping at the beach with the kids."]
    stack.memories.store_many([StoreRequest(content=t, agent="chat-import", observer="Melanie", session_key="s1")
                               for t in turns])
    hits = stack.search.run(SearchQuery("camping at the beach", limit=2, explain=True)).hits
    assert [h.memory.content for h in hits] == turns[::-1]
    asks, tells = hits[1].components, hits[0].components
    assert (asks["question_turn"], asks["addressed_turn"], asks["form"]) == (1.0, 0.0, pytest.approx(0.9))
    assert (tells["question_turn"], tells["form"]) == (0.0, 1.0)
    assert hits[1].score == pytest.approx(asks["relevance"] * 0.9 + 0.1 * (asks["prior"] - 0.5) - asks["penalty"])
    # an agent's own notes have no perspective: no form component
    stack.memories.store_many([StoreRequest(content="did the beach camping trip get booked?")])
    note = stack.search.run(SearchQuery("beach camping trip booked", limit=1)).hits[0]
    assert note.memory.agent != "chat-import" and "form" not in note.components


def test_a_question_naming_one_speaker_is_embedded_in_their_first_person_and_explained(stack: Stack) -> None:
    turns = [("Melanie", "Melanie: I took a pottery class and we went camping at the lake."),
             ("Caroline", "Caroline: The support group meets every Tuesday evening."),
             ("Melanie", "Melanie: Swimming with the kids is my favourite thing this summer.")]
    stack.memories.store_many([StoreRequest(content=c, agent="chat-import", observer=o, session_key="s1")
                               for o, c in turns])
    query = "What activities does Melanie partake in?"
    outcome = stack.search.run(SearchQuery(query, limit=3, explain=True))
    assert outcome.searched_as == {"bm25": "What activities does partake in?",
                                   "vector": "What activities do I partake in?"}
    assert outcome.to_dict(explain=True)["searched_as"] == outcome.searched_as
    assert "searched_as" not in outcome.to_dict()
    assert all(h.components["first_person_query"] == 1.0 for h in outcome.hits)
    # the cosine is the first-person query's: the same as a plain search for that text
    cosines = dict(stack.vectors.search("What activities do I partake in?", MemoryFilter(include_raw=True), 10))
    for h in outcome.hits:
        assert h.components["cosine"] == pytest.approx(cosines[h.memory.id], abs=1e-6)
    # switched off: the vector side searches the query without the name, as before
    off = SearchService(stack.store, stack.vectors, config=RankingConfig(first_person_query=False))
    before = off.run(SearchQuery(query, limit=3, explain=True))
    assert before.searched_as == {"bm25": "What activities does partake in?",
                                  "vector": "What activities does partake in?"}
    assert all("first_person_query" not in h.components for h in before.hits)


def test_hybrid_completes_both_scores_for_every_candidate(stack: Stack) -> None:
    stack.memories.store_many([StoreRequest(content=t) for t in NOTES])
    hits = stack.search.run(SearchQuery("staging database port", limit=5)).hits
    assert "5433" in hits[0].memory.content
    assert "bm25" in hits[0].components and "cosine" in hits[0].components


def test_vector_mode_can_find_nothing(stack: Stack) -> None:
    stack.memories.store(StoreRequest(content=NOTES[0]))
    hits = stack.search.run(SearchQuery("recipe for a chocolate cake with raspberries", mode=SearchMode.VECTOR)).hits
    assert hits == []


def test_filters_apply_to_vector_candidates(stack: Stack) -> None:
    stack.memories.store(StoreRequest(content="The staging database listens on port 5433", agent="alpha"))
    stack.memories.store(StoreRequest(content="The staging database listens on port 6543", agent="beta"))
    hits = stack.search.run(SearchQuery("staging db port", filter=MemoryFilter(agents=("beta",)))).hits
    assert [h.memory.agent for h in hits] == ["beta"]


def test_raw_activity_is_not_embedded_on_store_but_backfilled(stack: Stack) -> None:
    raw = stack.memories.store(StoreRequest(content="Tool call: ls -la", labels=["raw-activity"])).memory
    assert stack.embedder.calls == []
    run = stack.vectors.backfill()
    assert run.embedded == 1 and run.remaining == 0
    assert stack.store.get_vectors(raw.id, onnx.MODEL_ID)


def test_context_gets_its_own_vector_and_helps_find_the_memory(stack: Stack) -> None:
    m = stack.memories.store(StoreRequest(content="Yes, it was wonderful, we stayed a whole week!",
                                          context="Caroline: How was your holiday in Portugal?")).memory
    stack.memories.store(StoreRequest(content="The weather was terrible during the hiking weekend."))
    assert set(stack.store.get_vectors(m.id, onnx.MODEL_ID)) == {"content", "context"}
    hits = stack.search.run(SearchQuery("holiday in Portugal", mode=SearchMode.VECTOR)).hits
    assert hits[0].memory.id == m.id


def test_editing_content_re_embeds(stack: Stack) -> None:
    m = stack.memories.store(StoreRequest(content="The cat sleeps on the sofa")).memory
    before = stack.store.get_vectors(m.id, onnx.MODEL_ID)["content"]
    stack.memories.update(m.id, content="Quarterly revenue grew eight percent")
    after = stack.store.get_vectors(m.id, onnx.MODEL_ID)["content"]
    assert sum(a * b for a, b in zip(before, after, strict=True)) < 0.5


def test_a_failing_embedder_never_loses_the_memory(stack: Stack) -> None:
    stack.embedder.fail_after = 0
    m = stack.memories.store(StoreRequest(content="Stored even though the model is down")).memory
    assert stack.store.get(m.id) is not None
    assert stack.vectors.store_errors == 1 and "went away" in (stack.vectors.last_error or "")
    assert [x.id for x in stack.store.memories_without_vectors(onnx.MODEL_ID)] == [m.id]
    stack.embedder.fail_after = None
    assert stack.vectors.backfill().embedded == 1


def test_search_never_mixes_models(stack: Stack, model: onnx.OnnxEmbedder) -> None:
    a = stack.memories.store(StoreRequest(content="Deploys happen on Tuesdays")).memory
    b_memory = stack.store.store(NewMemory(agent="default", content="unrelated note"))
    query_vec = model.embed(["when do deploys happen"])[0]
    stack.store.upsert_vectors("other-model", [(b_memory.memory.id, "content", query_vec)])
    hits = stack.search.run(SearchQuery("when do deploys happen", mode=SearchMode.VECTOR)).hits
    assert [h.memory.id for h in hits] == [a.id]
    assert stack.vectors.status().other_models == {"other-model": 1}


def test_backfill_is_resumable_and_batched(stack: Stack) -> None:
    stack.vectors.embedder = None  # store without embedding, as the hook path does
    stack.memories.store_many([StoreRequest(content=f"note number {i} about topic {i % 3}") for i in range(10)])
    stack.vectors.embedder = stack.embedder
    seen: list[tuple[int, int]] = []
    first = stack.vectors.backfill(batch_size=3, max_memories=4, progress=lambda d, t: seen.append((d, t)))
    assert first.embedded == 4 and first.remaining == 6
    assert seen[0] == (0, 4) and seen[-1] == (4, 4)
    second = stack.vectors.backfill(batch_size=4)
    assert second.embedded == 6 and second.remaining == 0
    assert stack.embedder.calls == [3, 1, 4, 2]


def test_an_interrupted_rebuild_resumes(stack: Stack) -> None:
    stack.memories.store_many([StoreRequest(content=f"fact {i}: the answer is {i * 7}") for i in range(8)])

    def interrupt(done: int, total: int) -> None:
        if done >= 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        stack.vectors.rebuild(batch_size=3, progress=interrupt)
    assert stack.vectors.status().rebuild_in_progress is True
    assert stack.store.vector_counts()[onnx.MODEL_ID] == 3
    run = stack.vectors.rebuild(batch_size=3)
    assert run.resumed and run.embedded == 5 and run.remaining == 0
    assert stack.vectors.status().rebuild_in_progress is False
    again = stack.vectors.rebuild(batch_size=8)
    assert not again.resumed and again.embedded == 8


def test_without_an_embedder_hybrid_falls_back_to_bm25_with_a_note(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "n.db")
    try:
        vectors = EmbeddingService(store, None)
        memories = MemoryService(store, indexer=vectors.on_stored)
        search = SearchService(store, vectors)
        memories.store(StoreRequest(content="Deploys happen on Tuesdays"))
        outcome = search.run(SearchQuery("deploys"))
        assert outcome.mode is SearchMode.BM25 and "no embedding model" in (outcome.note or "")
        assert len(outcome.hits) == 1 and "bm25" in outcome.hits[0].components
        with pytest.raises(NotAvailable, match="vector search needs an embedding model"):
            search.run(SearchQuery("deploys", mode=SearchMode.VECTOR))
        with pytest.raises(NotAvailable):
            vectors.backfill()
    finally:
        store.close()


class LoadEverything(SearchService):
    """The reference behaviour: load every candidate before ranking."""

    def _load_contenders(self, scored, limit, include_raw, now):  # type: ignore[no-untyped-def]
        return {m.id: m for m in self.db.get_many(list(scored))}, {}  # no priors known: rank computes all


def test_loading_only_contenders_ranks_exactly_like_loading_everything(stack: Stack) -> None:
    reqs = [StoreRequest(content=f"deploy note {i}: the {['api', 'db', 'cache', 'queue'][i % 4]} deploy "
                                 f"{'failed' if i % 3 else 'worked'} on host {i}", confidence=(i % 10) / 10,
                         labels=["raw-activity"] if i % 7 == 0 else [])
            for i in range(60)]
    stack.memories.store_many(reqs)
    stack.vectors.backfill()
    reference = LoadEverything(stack.store, stack.vectors)
    for query in ("deploy failed on the db host", "cache deploy worked", "queue"):
        for flt in (MemoryFilter(), MemoryFilter(include_raw=True)):
            for limit in (1, 3, 10):
                got = stack.search.run(SearchQuery(query, filter=flt, limit=limit)).hits
                want = reference.run(SearchQuery(query, filter=flt, limit=limit)).hits
                assert [(h.memory.id, round(h.score, 9)) for h in got] == \
                       [(h.memory.id, round(h.score, 9)) for h in want]


def test_the_working_representation_uses_hybrid_search_when_a_model_is_usable(monkeypatch: pytest.MonkeyPatch) -> None:
    from nexus_memory.app import build_app
    from nexus_memory.config import load_settings

    monkeypatch.setenv("NEXUS_EMBEDDING_BACKEND", "onnx")
    app = build_app(load_settings())
    try:
        for text in NOTES:
            app.memories.store(StoreRequest(content=text, agent="claude-code"))
        rep = app.cognition.represent("claude-code", query="which food allergy does anyone have",
                                      include_recent=False)
        assert rep.semantic_mode == "hybrid"
        semantic = rep.to_dict()["semantic"]
        assert semantic and "peanuts" in json.dumps(semantic[0])
    finally:
        app.close()
    monkeypatch.setenv("NEXUS_EMBEDDING_BACKEND", "none")
    plain = build_app(load_settings())
    try:
        assert plain.cognition.representations.semantic_mode == "bm25"
    finally:
        plain.close()


def test_vectors_for_reuses_stored_vectors_and_embeds_only_the_missing(stack: Stack) -> None:
    """Cognition asks for many memories' vectors per dream: stored ones must not be re-embedded."""
    stored = [o.memory for o in stack.memories.store_many([StoreRequest(content=t) for t in NOTES])]
    calls_after_store = list(stack.embedder.calls)
    vecs = stack.vectors.vectors_for(stored)
    assert set(vecs) == {m.id for m in stored}
    assert stack.embedder.calls == calls_after_store  # nothing embedded again
    fresh = stored[0]
    assert vecs[fresh.id] == pytest.approx(stack.store.get_vectors(fresh.id, stack.embedder.model_id)["content"])
    stack.store.delete_vectors(memory_ids=[fresh.id])
    again = stack.vectors.vectors_for(stored)
    assert stack.embedder.calls == [*calls_after_store, 1]  # only the one without a vector
    assert again[fresh.id] == pytest.approx(vecs[fresh.id], abs=1e-4)
