"""The retrieval evaluation (reference 11, eval harness): a fixture, queries, and three retrieval modes.

22 memories across five topics (auth, rate limiting, the DB pool, an event-handler
leak, language preference) at every cognitive level: raw hook events, explicit
statements, derived observations, paraphrased reinforcements and contradictions
(older statements that newer ones overturn). 8 queries, literal and paraphrased,
name the memories that answer them.

Modes, measured on the same data:
* text-only: BM25 full-text search over what was captured (no dream yet);
* hybrid: the hybrid search service (BM25 + vectors when an embedder is
  available, else BM25 alone), still before the dream;
* cognition: after the dream cycle (derive, reflect, digest), the working
  representation for the query.

A retrieved memory is relevant when it is an expected memory or was made from
one (lineage); an expected memory counts as found when it or a memory made from
it is retrieved. A contradiction is surfaced when a contradiction memory about
the topic is retrieved, or the newer statement ranks above the one it overturned
while both are shown.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

from nexus_memory.domain.enums import CognitiveLevel, EvidenceRole, JobType, MemoryCategory, SearchMode
from nexus_memory.domain.models import CognitiveMetadata, MemoryFilter, NewMemory

if TYPE_CHECKING:
    from nexus_memory.services.cognition import CognitionService
    from nexus_memory.services.embeddings import EmbeddingService
    from nexus_memory.services.memories import MemoryService
    from nexus_memory.services.search import SearchService
    from nexus_memory.storage.base import Store

AGENT = "nexus-eval"
TOP_K = 5


class AppServices(Protocol):
    """The services the harness drives, end to end. The composition root's App has them; the
    harness names only this protocol, so it sits above the services without importing `app`."""

    @property
    def store(self) -> Store: ...

    @property
    def memories(self) -> MemoryService: ...

    @property
    def search(self) -> SearchService: ...

    @property
    def cognition(self) -> CognitionService: ...

    @property
    def embeddings(self) -> EmbeddingService | None: ...


@dataclass(frozen=True, slots=True)
class FixtureMemory:
    key: str
    content: str
    days_ago: float
    level: CognitiveLevel = CognitiveLevel.EXPLICIT
    category: MemoryCategory = MemoryCategory.GENERAL
    session: str = "eval-s1"
    confidence: float = 0.9


F = FixtureMemory
FIXTURE: tuple[FixtureMemory, ...] = (
    # auth: JWT, then session cookies (a contradiction across sessions)
    F("auth_jwt", "The API authenticates requests with JWT bearer tokens signed with RS256.", 30, session="eval-s1"),
    F("auth_jwt_again", "API requests are authenticated with JWT bearer tokens (RS256 signed).", 29,
      level=CognitiveLevel.DERIVED, confidence=0.8, session="eval-s1"),
    F("auth_cookies", "The API no longer uses JWT bearer tokens; authentication moved to HttpOnly session cookies.",
      2, session="eval-s3"),
    F("auth_refresh", "Session cookies are refreshed on every request and expire after 12 hours of inactivity.", 2,
      session="eval-s3"),
    # rate limiting
    F("rate_login", "The login endpoint is rate limited to 5 requests per minute per IP address.", 20,
      category=MemoryCategory.SPECIFICATIONS, session="eval-s2"),
    F("rate_login_para", "Login attempts are throttled: at most 5 requests per minute from one IP address.", 10,
      level=CognitiveLevel.DERIVED, confidence=0.8, session="eval-s2"),
    F("rate_lib", "Rate limiting is implemented with a token bucket in the gateway middleware.", 19,
      session="eval-s2"),
    # database pool
    F("pool_10", "The database connection pool size is 10 connections.", 25, session="eval-s1"),
    F("pool_20", "The database connection pool size is 20 connections after the load test.", 3, session="eval-s3"),
    F("pool_timeout", "Database pool checkout times out after 30 seconds and logs a warning.", 24,
      session="eval-s1"),
    # event handler leak
    F("leak_cause", "The memory leak in the event handler comes from a circular reference between "
      "listeners and the emitter.", 8, session="eval-s2"),
    F("leak_cause_para", "A circular reference between the emitter and its listeners causes the event handler "
      "memory leak.", 7, level=CognitiveLevel.DERIVED, confidence=0.8, session="eval-s2"),
    F("leak_query", "The memory leak in the event handler does not come from a circular reference; the query "
      "builder caches every statement.", 1, session="eval-s3"),
    F("leak_fix", "Listeners are now removed with weak references when the emitter is disposed.", 6,
      session="eval-s2"),
    # language preference
    F("ts_pref", "The user prefers TypeScript with strict mode for all new frontend code.", 15,
      category=MemoryCategory.PREFERENCES, session="eval-s2"),
    F("ts_pref_again", "New frontend code should be TypeScript in strict mode, per the user's preference.", 5,
      category=MemoryCategory.PREFERENCES, level=CognitiveLevel.DERIVED, confidence=0.8, session="eval-s3"),
    F("lint", "ESLint runs in CI and fails the build on warnings.", 14, session="eval-s2"),
    # distractors
    F("deploy", "Deploys to production happen on Tuesdays after the change review.", 12, session="eval-s2"),
    F("docs", "The README documents local setup with docker compose.", 11, session="eval-s2"),
    F("ci_cache", "CI caches the node_modules folder keyed by the lockfile hash.", 9, session="eval-s2"),
    # raw hook activity (derived into explicit observations by the dream)
    F("raw_pool", "Tool 'Bash' executed:\nInput: grep -n pool_size config/db.yml\nResult: pool_size: 20", 3,
      level=CognitiveLevel.RAW, category=MemoryCategory.SESSION, session="eval-s3", confidence=0.35),
    F("raw_test", "Tool 'Bash' executed:\nInput: npm test\nResult: 212 passed", 2, level=CognitiveLevel.RAW,
      category=MemoryCategory.SESSION, session="eval-s3", confidence=0.35),
)


@dataclass(frozen=True, slots=True)
class EvalQuery:
    text: str
    expected: tuple[str, ...]
    kind: str  # literal | paraphrase
    contradiction: tuple[str, str] | None = None  # (older, newer) keys


QUERIES: tuple[EvalQuery, ...] = (
    EvalQuery("JWT bearer tokens authentication", ("auth_jwt", "auth_jwt_again", "auth_cookies"), "literal",
              ("auth_jwt", "auth_cookies")),
    EvalQuery("how do users stay logged in to the API?", ("auth_cookies", "auth_refresh"), "paraphrase",
              ("auth_jwt", "auth_cookies")),
    EvalQuery("login rate limit requests per minute", ("rate_login", "rate_login_para"), "literal"),
    EvalQuery("how many sign-in tries are allowed before we block someone", ("rate_login", "rate_login_para"),
              "paraphrase"),
    EvalQuery("database connection pool size", ("pool_10", "pool_20"), "literal", ("pool_10", "pool_20")),
    EvalQuery("why does the event handler leak memory", ("leak_cause", "leak_cause_para", "leak_query"),
              "literal", ("leak_cause", "leak_query")),
    EvalQuery("what language should new UI code be written in", ("ts_pref", "ts_pref_again"), "paraphrase"),
    EvalQuery("listeners removed when the emitter is disposed", ("leak_fix",), "literal"),
)


def load_fixture(app: AppServices, now: datetime) -> dict[str, int]:
    """Store the fixture; returns fixture key -> memory id."""
    ids: dict[str, int] = {}
    for f in FIXTURE:
        cog = CognitiveMetadata.new(f.level, AGENT, AGENT, f.session, "eval_fixture")
        cog.confidence = f.confidence
        cog.generated_by = "eval_fixture"
        meta: dict[str, Any] = {}
        labels: tuple[str, ...] = ()
        if f.level is CognitiveLevel.RAW:
            meta["raw_activity"] = {"agent": AGENT, "event_name": "PostToolUse", "session_key": f.session,
                                    "derived_session_key": f.session, "cwd": "/work/eval", "tool_name": "Bash",
                                    "distill_pending": True}
            labels = ("session", "raw-activity", "distill-pending")
        new = NewMemory(agent=AGENT, content=f.content, category=f.category, labels=labels,
                        metadata=cog.merge_into(meta), session_key=f.session,
                        created_at=now - timedelta(days=f.days_ago))
        memory = app.memories.store_prepared(new).memory
        ids[f.key] = memory.id
        if f.level is CognitiveLevel.RAW:
            app.cognition.enqueue(AGENT, JobType.DERIVE_MEMORY, {"memory_id": memory.id})
    return ids


def run_dream(app: AppServices) -> dict[str, Any]:
    out: dict[str, Any] = {"drain": app.cognition.drain("eval", agent=AGENT, rounds=5).to_dict()}
    out["reflect"] = app.cognition.reflect(AGENT).to_dict()
    out["digests"] = [app.cognition.digest(AGENT, s, rebuild=True).status
                      for s in sorted({f.session for f in FIXTURE})]
    return out


@dataclass
class ModeScore:
    mode: str
    recall: list[float] = field(default_factory=list)
    precision: list[float] = field(default_factory=list)
    latency_ms: list[float] = field(default_factory=list)
    contradictions_surfaced: int = 0
    contradiction_queries: int = 0
    stale_first: int = 0
    per_query: list[dict[str, Any]] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        lat = sorted(self.latency_ms)
        return {
            "mode": self.mode,
            "recall": round(statistics.fmean(self.recall), 3) if self.recall else 0.0,
            "precision": round(statistics.fmean(self.precision), 3) if self.precision else 0.0,
            "contradiction_surfacing": round(self.contradictions_surfaced / self.contradiction_queries, 3)
            if self.contradiction_queries else 0.0,
            "stale_first": self.stale_first,
            "latency_ms_mean": round(statistics.fmean(lat), 2) if lat else 0.0,
            "latency_ms_p95": round(lat[min(len(lat) - 1, int(0.95 * len(lat)))], 2) if lat else 0.0,
        }


Retriever = Callable[[str], list[int]]


def _sources(app: AppServices, ids: list[int]) -> dict[int, set[int]]:
    """memory id -> the ids it was made from (transitively, two hops), for relevance by lineage."""
    out: dict[int, set[int]] = {i: set() for i in ids}
    rows = app.store.lineage_batch(ids)
    first: dict[int, set[int]] = {}
    for ev in rows:
        if ev.derived_memory_id in out and ev.evidence_role != EvidenceRole.SUPERSEDES.value:
            out[ev.derived_memory_id].add(ev.source_memory_id)
            first.setdefault(ev.derived_memory_id, set()).add(ev.source_memory_id)
    hop = sorted({s for srcs in first.values() for s in srcs})
    if hop:
        for ev in app.store.lineage_batch(hop):
            if ev.evidence_role == EvidenceRole.SUPERSEDES.value:
                continue
            for srcs in out.values():
                if ev.derived_memory_id in srcs:
                    srcs.add(ev.source_memory_id)
    return out


def score_mode(app: AppServices, mode: str, retrieve: Retriever, ids: dict[str, int]) -> ModeScore:
    result = ModeScore(mode)
    for q in QUERIES:
        t0 = time.perf_counter()
        got = retrieve(q.text)[:TOP_K]
        result.latency_ms.append((time.perf_counter() - t0) * 1000)
        expected = {ids[k] for k in q.expected}
        lineage = _sources(app, got)
        relevant = [g for g in got if g in expected or lineage[g] & expected]
        found = {e for e in expected if e in got or any(e in lineage[g] for g in got)}
        result.recall.append(len(found) / len(expected))
        result.precision.append(len(relevant) / len(got) if got else 0.0)
        surfaced = False
        if q.contradiction:
            result.contradiction_queries += 1
            older, newer = ids[q.contradiction[0]], ids[q.contradiction[1]]
            mems = {m.id: m for m in app.store.get_many(got)}
            for g in got:
                m = mems.get(g)
                if m is not None and m.level() is CognitiveLevel.CONTRADICTION and {older, newer} & lineage[g]:
                    surfaced = True
            if older in got and newer in got:
                if got.index(older) < got.index(newer):
                    result.stale_first += 1
                else:
                    surfaced = True
            result.contradictions_surfaced += int(surfaced)
        result.per_query.append({"query": q.text, "kind": q.kind, "retrieved": got, "expected": sorted(expected),
                                 "contradiction_surfaced": surfaced if q.contradiction else None})
    return result


def text_retriever(app: AppServices) -> Retriever:
    def run(text: str) -> list[int]:
        return [h.memory_id for h in app.store.text_search(text, MemoryFilter(agents=(AGENT,)), limit=TOP_K)]
    return run


def hybrid_retriever(app: AppServices) -> Retriever:
    from nexus_memory.services.search import SearchQuery

    def run(text: str) -> list[int]:
        hits = app.search.search(SearchQuery(text, MemoryFilter(agents=(AGENT,)), TOP_K, SearchMode.HYBRID))
        return [h.memory.id for h in hits]
    return run


def cognition_retriever(app: AppServices) -> Retriever:
    def run(text: str) -> list[int]:
        rep = app.cognition.represent(AGENT, query=text, max_items=24)
        return [i.memory.id for i in rep.ranked()]
    return run


def evaluate(app: AppServices, now: datetime) -> dict[str, Any]:
    """Load the fixture into an empty app, score text-only and hybrid, dream, score cognition."""
    ids = load_fixture(app, now)
    if app.embeddings is not None and app.embeddings.available():
        app.embeddings.backfill()
    scores = [score_mode(app, "text-only", text_retriever(app), ids),
              score_mode(app, "hybrid", hybrid_retriever(app), ids)]
    t0 = time.perf_counter()
    dream = run_dream(app)
    dream_ms = (time.perf_counter() - t0) * 1000
    if app.embeddings is not None and app.embeddings.available():
        app.embeddings.backfill()
    scores.append(score_mode(app, "cognition", cognition_retriever(app), ids))
    semantic = "vectors" if app.embeddings is not None and app.embeddings.available() else "bm25 only"
    return {"memories": len(FIXTURE), "queries": len(QUERIES), "top_k": TOP_K, "embeddings": semantic,
            "dream_ms": round(dream_ms, 1), "dream": {"reflect": dream["reflect"], "digests": dream["digests"],
                                                       "jobs": dream["drain"]["processed_jobs"]},
            "modes": [s.summary() for s in scores], "per_query": {s.mode: s.per_query for s in scores}}


def render(report: dict[str, Any]) -> str:
    lines = [f"Retrieval evaluation: {report['memories']} memories, {report['queries']} queries, top {report['top_k']}, "
             f"embeddings: {report['embeddings']}, dream {report['dream_ms']:.0f} ms",
             f"{'mode':<11} {'recall':>7} {'precision':>9} {'contradictions':>14} {'stale-first':>11} "
             f"{'mean ms':>8} {'p95 ms':>7}"]
    for m in report["modes"]:
        lines.append(f"{m['mode']:<11} {m['recall']:>7.3f} {m['precision']:>9.3f} {m['contradiction_surfacing']:>14.3f} "
                     f"{m['stale_first']:>11} {m['latency_ms_mean']:>8.2f} {m['latency_ms_p95']:>7.2f}")
    return "\n".join(lines)
