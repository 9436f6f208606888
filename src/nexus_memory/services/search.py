"""SearchService: BM25, vector and hybrid search over the store.

The ranking rules (fusion, priors) live in `domain/hybrid.py` so every backend
and surface shares them; this service only gathers candidates:

- bm25: the store's full-text search;
- vector: the `VectorSearcher` (EmbeddingService) over the configured model;
- hybrid: both candidate lists; BM25 candidates the vector list missed get their
  exact cosine (cheap: only their rows are scored), then the lists are fused. The
  reverse (BM25 for vector-only candidates) is not done: FTS5 must evaluate the whole
  OR query again even for a handful of ids, doubling the BM25 cost (measured), and a
  candidate outside BM25's top list counts as 0 there, as in the fusion measured on LoCoMo.

Hybrid is the default; without a usable embedder it falls back to bm25 and says
so in `SearchOutcome.note`.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from nexus_memory.domain import hybrid as ranking
from nexus_memory.domain.enums import SearchMode
from nexus_memory.domain.hybrid import RankingConfig
from nexus_memory.domain.models import Memory, MemoryFilter, Neighbourhood
from nexus_memory.domain.timeutil import Clock, utcnow
from nexus_memory.errors import InvalidInput, NexusError, NotAvailable
from nexus_memory.storage.base import MemoryStore

if TYPE_CHECKING:  # the hook's in-process BM25 search never starts threads: ~5 ms of imports it skips
    from concurrent.futures import ThreadPoolExecutor

#: Threads that embed queries while FTS5 runs (each request hands its query to one of them).
QUERY_EMBED_THREADS = 4


def _default_filter() -> MemoryFilter:
    """Every agent, episodes included (ranked below what was derived from them), no bookkeeping."""
    return MemoryFilter(include_raw=True)


@dataclass(frozen=True, slots=True)
class SearchQuery:
    text: str
    filter: MemoryFilter = field(default_factory=_default_filter)
    limit: int = 10
    mode: SearchMode = SearchMode.HYBRID
    explain: bool = False


@dataclass(frozen=True, slots=True)
class SearchHit:
    memory: Memory
    score: float
    #: Every number behind `score`: raw and normalised retriever scores, ranks,
    #: fused relevance, prior terms and penalties (see domain/hybrid.py).
    components: dict[str, float] = field(default_factory=dict)
    snippet: str | None = None

    def to_dict(self, explain: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {"memory": self.memory.to_dict(), "score": round(self.score, 6)}
        if self.snippet:
            out["highlight"] = self.snippet
        if explain:
            out["explain"] = {k: round(v, 6) for k, v in self.components.items()}
        return out


@dataclass(frozen=True, slots=True)
class SearchOutcome:
    hits: list[SearchHit]
    #: The mode that actually ran (hybrid falls back to bm25 without vectors).
    mode: SearchMode
    note: str | None = None
    model: str | None = None
    #: What each retriever searched for when it was not the query itself ("bm25" / "vector": the
    #: query without the names, the vector side's first-person form); shown with explain.
    searched_as: dict[str, str] = field(default_factory=dict)

    def to_dict(self, explain: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {"mode": self.mode.value, "count": len(self.hits),
                               "results": [h.to_dict(explain=explain) for h in self.hits]}
        if self.model:
            out["embedding_model"] = self.model
        if self.note:
            out["note"] = self.note
        if explain and self.searched_as:
            out["searched_as"] = dict(self.searched_as)
        return out


class VectorSearcher(Protocol):
    """What hybrid search needs from the vector side (EmbeddingService)."""

    @property
    def model_id(self) -> str | None: ...

    def available(self) -> bool: ...

    def unavailable_reason(self) -> str | None: ...

    def search(self, text: str, flt: MemoryFilter, limit: int) -> list[tuple[int, float]]:
        """(memory id, cosine similarity) best first."""
        ...

    def embed_query(self, text: str) -> list[float]:
        """Embed (and cache) the query, so `search` with the same text does not embed again."""
        ...


class SearchService:
    def __init__(self, store: MemoryStore, vectors: VectorSearcher | None = None, *,
                 config: RankingConfig | None = None, clock: Clock = utcnow) -> None:
        self.db = store
        self.vectors = vectors
        self.config = config or RankingConfig()
        self.clock = clock
        self._pool: ThreadPoolExecutor | None = None

    def default_mode(self) -> SearchMode:
        """Hybrid when an embedder is usable, else bm25."""
        return SearchMode.HYBRID if self._vector_reason() is None else SearchMode.BM25

    def _vector_reason(self) -> str | None:
        if self.vectors is None:
            return "no embedding model is configured"
        return self.vectors.unavailable_reason()

    def search(self, query: SearchQuery) -> list[SearchHit]:
        return self.run(query).hits

    def run(self, query: SearchQuery) -> SearchOutcome:
        text = query.text
        if not text.strip():
            raise InvalidInput("the search query is empty", hint="pass some words to search for")
        if not 1 <= query.limit <= 1000:
            raise InvalidInput(f"limit {query.limit} is out of range", hint="use 1 to 1000")
        mode = SearchMode.parse(query.mode)
        reason = self._vector_reason() if mode is not SearchMode.BM25 else None
        if mode is SearchMode.VECTOR and reason:
            raise NotAvailable(
                f"vector search needs an embedding model: {reason}",
                hint="install the embeddings extra and set NEXUS_EMBEDDING_BACKEND=onnx, or use --mode bm25",
            )
        note = None
        if mode is SearchMode.HYBRID and reason:
            mode, note = SearchMode.BM25, f"searched with bm25 only: {reason}"
        flt, limit = query.filter, query.limit
        n = self.config.candidate_count(limit)
        model = self.vectors.model_id if self.vectors is not None and mode is not SearchMode.BM25 else None
        snippets: dict[int, str | None] = {}
        searched_as: dict[str, str] = {}
        #: Agent, session and perspective of the candidates, for the neighbourhood stage (hybrid).
        pool: dict[int, Neighbourhood] = {}
        if mode is SearchMode.BM25:
            bm25 = self._bm25(text, flt, n, snippets)
            scored = ranking.single(bm25, "bm25")
        elif mode is SearchMode.VECTOR:
            dense = ranking.drop_weak(dict(self._dense(text, flt, n)), {}, self.config.min_cosine)
            scored = ranking.single(dense, "vector")
        else:
            # Embed the query while FTS5 runs: both release the GIL.
            assert self.vectors is not None
            pending = self._embedding_pool().submit(self.vectors.embed_query, text)
            bm25 = self._bm25(text, flt, n, snippets)
            searched = embedded = text
            if self._stage():
                pool.update(self.db.neighbourhoods(sorted(bm25)))
                rest, spoken = self._without_names(text, pool)
                if rest:
                    # The name is the entity component's job; both retrievers look for the rest, the
                    # vector side in the named person's own words when there is one (`first_person`).
                    pending.cancel()
                    embedded = spoken or rest
                    pending = self._embedding_pool().submit(self.vectors.embed_query, embedded)
                    bm25, searched = self._bm25(rest, flt, n, snippets), rest
            try:
                pending.result()
                dense = dict(self._dense(embedded, flt, n))
            except NexusError as exc:
                import logging

                logging.getLogger(__name__).warning("vector search failed, using bm25 only: %s", exc.one_line())
                mode, note, model = SearchMode.BM25, f"searched with bm25 only: {exc.message}", None
                scored = ranking.single(bm25, "bm25")
            else:
                self._complete(embedded, flt, bm25, dense)
                scored = ranking.fuse(bm25, dense, self.config)
                if self._stage():
                    scored = self._neighbourhood(text, scored, pool, requery=searched != text,
                                                 first_person=embedded not in (text, searched))
                searched_as = {k: v for k, v in (("bm25", searched), ("vector", embedded)) if v != text}
        now = self.clock()
        memories, known_priors = self._load_contenders(scored, limit, flt.include_raw, now)
        ranked = ranking.rank({i: scored[i] for i in memories}, memories, now, include_raw=flt.include_raw,
                              config=self.config, limit=limit, known_priors=known_priors)
        hits = [SearchHit(memories[mid], score, parts, snippets.get(mid)) for mid, score, parts in ranked]
        return SearchOutcome(hits, mode, note, model, searched_as)

    def _stage(self) -> bool:
        return self.config.session_weight > 0 or self.config.entity_weight > 0

    def _without_names(self, text: str, pool: dict[int, Neighbourhood]) -> tuple[str, str]:
        """(the query without the names of who candidates are by or about, "" when none is
        mentioned; the query as the one person it names would ask it, "" unless that applies).
        Searching for the rest keeps a name from pulling in every memory that merely mentions it;
        the vector side searches for the first-person form (measured on LoCoMo, docs/search.md)."""
        if not (self.config.entity_requery and self.config.entity_weight > 0):
            return "", ""
        names = ranking.named_entities(pool, pool, text)[0]
        rest = ranking.without_names(text, names) if names else ""
        if not any(ch.isalnum() for ch in rest):
            return "", ""
        return rest, ranking.first_person(text, names) if self.config.first_person_query else ""

    def _neighbourhood(self, text: str, scored: dict[int, dict[str, float]], pool: dict[int, Neighbourhood], *,
                       requery: bool, first_person: bool = False) -> dict[int, dict[str, float]]:
        """Read the candidates not in `pool` yet, then the entity and session stage."""
        missing = [i for i in scored if i not in pool]
        if missing:
            pool.update(self.db.neighbourhoods(missing))
        out = ranking.neighbourhood(scored, pool, text, self.config)
        if requery:
            for parts in out.values():
                parts["requery"] = 1.0
                if first_person:
                    parts["first_person_query"] = 1.0
        return out

    def _load_contenders(self, scored: dict[int, dict[str, float]], limit: int, include_raw: bool,
                         now: datetime) -> tuple[dict[int, Memory], dict[int, dict[str, float]]]:
        """Load memories best relevance first, stopping once no remaining candidate can
        reach the top `limit`: priors add at most `max_prior_gain`, penalties only lower.
        Returns the memories and their priors (ranking reuses them)."""
        order = sorted(scored, key=lambda i: (-scored[i]["relevance"], i))
        gain = ranking.max_prior_gain(self.config)
        memories: dict[int, Memory] = {}
        priors: dict[int, dict[str, float]] = {}
        finals: list[float] = []
        step = max(limit, 10)
        for start in range(0, len(order), step):
            if len(finals) >= limit:
                kth = sorted(finals, reverse=True)[limit - 1]
                if scored[order[start]]["relevance"] + gain < kth:
                    break
            chunk = order[start:start + step]
            for m in self.db.get_many(chunk):
                memories[m.id] = m
                priors[m.id] = ranking.priors(m, now, include_raw=include_raw, config=self.config)
                finals.append(ranking.final_score({**scored[m.id], **priors[m.id]}, self.config))
        return memories, priors

    def _embedding_pool(self) -> ThreadPoolExecutor:
        if self._pool is None:
            from concurrent.futures import ThreadPoolExecutor

            # Several at once: concurrent requests embed side by side (the embedder bounds its runs).
            self._pool = ThreadPoolExecutor(max_workers=QUERY_EMBED_THREADS, thread_name_prefix="nexus-query-embed")
        return self._pool

    def _bm25(self, text: str, flt: MemoryFilter, n: int, snippets: dict[int, str | None]) -> dict[int, float]:
        out: dict[int, float] = {}
        for hit in self.db.text_search(text, flt, limit=n):
            out[hit.memory_id] = hit.score
            snippets[hit.memory_id] = hit.snippet
        return out

    def _dense(self, text: str, flt: MemoryFilter, n: int) -> list[tuple[int, float]]:
        assert self.vectors is not None
        try:
            return self.vectors.search(text, flt, n)
        except NotAvailable:
            raise
        except NexusError as exc:
            raise NotAvailable(exc.message, hint=exc.hint) from None

    def _complete(self, text: str, flt: MemoryFilter, bm25: dict[int, float], dense: dict[int, float]) -> None:
        """Exact cosines for the BM25 candidates the vector list missed (a memory without a
        vector keeps none)."""
        no_dense = tuple(i for i in bm25 if i not in dense)
        if no_dense:
            dense.update(self._dense(text, replace(flt, ids=no_dense), len(no_dense)))
