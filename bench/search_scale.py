"""Search at scale (issue 3). Run: `make bench-search` or `python bench/search_scale.py`.

Measures, in one run so the ratios are side by side on the same noisy machine:
  * ingest with embeddings: memories/s through MemoryService.store_many with the real MiniLM
    model (content only, and content + retrieval context = two vectors), beside plain stores;
  * hybrid search p50/p95 at each size (default 100k and 1M), the query embedding included
    (the query cache is cleared before every query), plus bm25-only and vector-only latency and
    the one-off cost of loading the vector matrix after opening the database;
  * at the largest size, candidate plans for 1M: exact float32 (what the store does), float16,
    binary (sign bit) codes with exact re-ranking, and a 128-d random projection with exact
    re-ranking: latency, memory and recall@10 against exact search.

Corpus: texts are generated: a topic sentence (one of 3,000) plus 8-20 words, all drawn with their
natural frequency from a 12k-word vocabulary of real words (identifiers in the Python standard
library, as in reference/dependencies-here.md section 3; the 200 most frequent left out as stop
words). Embedding 1M texts would take over an hour here, so corpus vectors are SYNTHESISED: each
memory's vector is the real MiniLM vector of its topic sentence plus Gaussian noise, normalised.
Queries are real texts embedded by the real model at query time. Exact search cost does not depend
on the vectors' values; the recall of the approximate plans does, which is why the vectors keep
the clustered shape of real embeddings.
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import platform
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from nexus_memory.domain.enums import SearchMode
from nexus_memory.domain.hybrid import RankingConfig
from nexus_memory.domain.models import MemoryFilter, NewMemory
from nexus_memory.embeddings.onnx import OnnxEmbedder
from nexus_memory.services.embeddings import EmbeddingService
from nexus_memory.services.memories import MemoryService, StoreRequest
from nexus_memory.services.search import SearchQuery, SearchService
from nexus_memory.storage.sqlite import SQLiteStore

#: NEXUS_FTS_BUDGET's default before issue 14 (the `hybrid_before` row).
BUDGET_BEFORE = 1000
AGENTS = ["claude-code", "gemini", "codex", "qwen", "opencode", "droid", "cursor", "copilot"]


class Vocabulary:
    """Real words with a natural (Zipf-like) frequency: identifiers split out of the Python
    standard library's sources, as in reference/dependencies-here.md section 3."""

    def __init__(self, rng: random.Random, size: int = 12_000) -> None:
        import collections
        import re
        import sysconfig

        counts: collections.Counter[str] = collections.Counter()
        root = Path(sysconfig.get_paths()["stdlib"])
        for path in sorted(root.glob("*.py"))[:400]:
            try:
                counts.update(re.findall(r"[a-z]{3,12}", path.read_text("utf-8", "ignore").lower()))
            except OSError:
                continue
        common = {"self", "the", "def", "return", "none", "and", "for", "not", "import", "from", "with", "elif",
                  "else", "true", "false", "class", "try", "except", "raise", "pass", "lambda", "yield"}
        # The most frequent words act as stop words (English function words, `self`, `name`...):
        # left in, every query matched ~40% of the corpus, which no real query does.
        ranked = [(w, c) for w, c in counts.most_common(size + 400) if w not in common]
        words = ranked[200:200 + size]
        self.words = [w for w, _ in words]
        self.weights = [c for _, c in words]
        self.rng = rng

    def sample(self, k: int) -> list[str]:
        return self.rng.choices(self.words, weights=self.weights, k=k)


def topic_sentences(count: int, vocab: Vocabulary) -> list[str]:
    return [" ".join(vocab.sample(6)).capitalize() for _ in range(count)]


def memory_text(topic: str, vocab: Vocabulary) -> str:
    return f"{topic}: {' '.join(vocab.sample(vocab.rng.randint(8, 20)))}; ticket {vocab.rng.randint(1000, 99999)}."


def percentile(values: Sequence[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(pct / 100 * len(ordered)) - 1))]


def timed(fn: Callable[[], Any], repeat: int) -> list[float]:
    out = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t) * 1000)
    return out


ENGLISH = (["the build", "the CI pipeline", "the database pool", "the auth service", "the cache", "the deploy script",
            "the test suite", "the API gateway", "the queue worker", "the migration", "the retry policy"],
           ["uses", "needs", "breaks when", "was changed to use", "should avoid", "now depends on", "times out with"],
           ["connection pooling", "a 30 second timeout", "exponential backoff", "Redis as a cache", "a read replica",
            "structured logging", "batch inserts", "a circuit breaker", "pinned versions", "row level locks"])


def english_note(rng: random.Random) -> str:
    """A short English note (~12 words), the typical agent memory."""
    subject, verb, obj = (rng.choice(part) for part in ENGLISH)
    return f"{subject.capitalize()} {verb} {obj} since ticket {rng.randint(100, 9999)} was closed last week."


def bench_ingest(model: OnnxEmbedder, count: int, tmp: Path) -> dict[str, float]:
    """memories/s through MemoryService.store_many, batches of 64, for two kinds of text."""
    vocab = Vocabulary(random.Random(7))
    topics = topic_sentences(200, vocab)
    corpora = {
        "english": [english_note(vocab.rng) for _ in range(count)],
        "identifiers": [memory_text(vocab.rng.choice(topics), vocab) for _ in range(count)],
    }
    out: dict[str, float] = {}
    for corpus, texts in corpora.items():
        out[f"{corpus}_tokens_per_text"] = statistics.fmean(len(e.ids) for e in model._tokenizer.encode_batch(texts))
        for label, embed, with_context in (("plain", False, False), ("embedded", True, False),
                                           ("embedded_with_context", True, True)):
            name = f"{corpus}-{label}"
            for old in tmp.glob(f"ingest-{name}.db*"):  # a kept folder: start empty, or stores merge
                old.unlink()
            store = SQLiteStore(tmp / f"ingest-{name}.db")
            vectors = EmbeddingService(store, model if embed else None, backend="onnx" if embed else "none")
            memories = MemoryService(store, indexer=vectors.on_stored)
            reqs = [StoreRequest(content=t, agent=AGENTS[i % len(AGENTS)],
                                 context=f"previous turn: {texts[i - 1]}" if with_context and i else None)
                    for i, t in enumerate(texts)]
            t0 = time.perf_counter()
            for start in range(0, len(reqs), 64):
                memories.store_many(reqs[start:start + 64])
            out[f"{corpus}_{label}_per_sec"] = count / (time.perf_counter() - t0)
            if embed:
                assert vectors.store_errors == 0, vectors.last_error
            store.close()
    return out


def build_corpus(path: Path, size: int, model: OnnxEmbedder, base_topics: list[str], base_vecs: np.ndarray,
                 noise: float, seed: int) -> dict[str, float]:
    vocab = Vocabulary(random.Random(seed))
    rng = vocab.rng
    nrng = np.random.default_rng(seed)
    store = SQLiteStore(path)
    t0 = time.perf_counter()
    batch = 10_000
    next_id = 1
    for start in range(0, size, batch):
        n = min(batch, size - start)
        picks = [rng.randrange(len(base_topics)) for _ in range(n)]
        news = [NewMemory(agent=AGENTS[(start + i) % len(AGENTS)], content=memory_text(base_topics[p], vocab))
                for i, p in enumerate(picks)]
        outcomes = store.store_many(news)
        ids = [o.memory.id for o in outcomes]
        vecs = base_vecs[picks] + nrng.normal(0.0, noise / math.sqrt(base_vecs.shape[1]),
                                              (n, base_vecs.shape[1])).astype(np.float32)
        vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
        store.upsert_vectors(model.model_id, [(mid, "content", v) for mid, v in zip(ids, vecs, strict=True)])
        next_id += n
        print(f"  built {start + n}/{size}", file=sys.stderr, end="\r")
    print(file=sys.stderr)
    secs = time.perf_counter() - t0
    store.close()
    return {"build_secs": secs}


def bench_size(path: Path, size: int, model: OnnxEmbedder, queries: list[str], repeat_note: str,
               plans: bool = True) -> dict[str, Any]:
    store = SQLiteStore(path)
    vectors = EmbeddingService(store, model, backend="onnx")
    search = SearchService(store, vectors)
    vectors.embed_query("warm the model")
    snapshots = path.with_name(path.name + ".vectors")
    if snapshots.exists():
        shutil.rmtree(snapshots)
    t = time.perf_counter()
    store.vector_search(model.model_id, vectors.embed_query("load the matrix"), MemoryFilter(), limit=1)
    load_ms = (time.perf_counter() - t) * 1000  # rows from SQLite, then the snapshot is written
    other = SQLiteStore(path)  # what the next process (a CLI command) pays: map the snapshot
    t = time.perf_counter()
    other.vector_search(model.model_id, vectors.embed_query("load the matrix"), MemoryFilter(), limit=1)
    snapshot_ms = (time.perf_counter() - t) * 1000
    other.close()
    out: dict[str, Any] = {"size": size, "matrix_load_ms": load_ms, "snapshot_load_ms": snapshot_ms}
    # Side by side, query by query (the machine is noisy): the default; the fusion alone (no
    # neighbourhood stage, issue 14); the fusion alone with the FTS budget before issue 14.
    fused = SearchService(store, vectors, config=RankingConfig(session_weight=0.0, entity_weight=0.0))
    budget = store.fts_budget
    variants = [("hybrid", search, SearchMode.HYBRID, budget), ("hybrid_fused", fused, SearchMode.HYBRID, budget),
                ("hybrid_before", fused, SearchMode.HYBRID, BUDGET_BEFORE), ("bm25", search, SearchMode.BM25, budget),
                ("vector", search, SearchMode.VECTOR, budget)]
    lats: dict[str, list[float]] = {label: [] for label, *_ in variants}
    for n, q in enumerate(queries):
        # rotate who goes first: the first search of a query pays its cold pages for the others
        for label, service, mode, fts_budget in variants[n % len(variants):] + variants[:n % len(variants)]:
            store.fts_budget = fts_budget
            vectors.clear_query_cache()
            t = time.perf_counter()
            service.run(SearchQuery(q, limit=10, mode=mode))
            lats[label].append((time.perf_counter() - t) * 1000)
    store.fts_budget = budget
    for label, lat in lats.items():
        out[label] = {"p50": statistics.median(lat), "p95": percentile(lat, 95)}
    lat = []
    for q in queries[:50]:
        vectors.clear_query_cache()
        t = time.perf_counter()
        search.run(SearchQuery(q, filter=MemoryFilter(agents=("codex",)), limit=10, mode=SearchMode.HYBRID))
        lat.append((time.perf_counter() - t) * 1000)
    out["hybrid_one_agent"] = {"p50": statistics.median(lat), "p95": percentile(lat, 95)}
    embed = timed(lambda: model.embed(["how do we configure the retry policy for the queue worker"]), 30)
    out["query_embedding_ms_p50"] = statistics.median(embed)
    matrix = store._vec_cache[model.model_id]  # the store's own cached matrix
    out["matrix_mb"] = matrix.data[: matrix.n].nbytes / 1e6
    out["plans"] = quantisation_plans(matrix.data[: matrix.n], np.asarray(model.embed(queries[:50]), dtype=np.float32)) \
        if plans else {}
    store.close()
    del store, matrix
    gc.collect()
    return out


def quantisation_plans(data: np.ndarray, qs: np.ndarray, k: int = 10, rerank: int = 1000) -> dict[str, Any]:
    """Latency per query, memory, and recall@k against exact float32 search."""
    dim = data.shape[1]
    exact = [set(np.argpartition(-(data @ q), k)[:k].tolist()) for q in qs]

    def run(search: Callable[[np.ndarray], np.ndarray]) -> tuple[float, float]:
        lat, rec = [], []
        for q, truth in zip(qs, exact, strict=True):
            t = time.perf_counter()
            top = search(q)
            lat.append((time.perf_counter() - t) * 1000)
            rec.append(len(set(top.tolist()) & truth) / k)
        return statistics.median(lat), statistics.fmean(rec)

    def top_k(scores: np.ndarray, kk: int) -> np.ndarray:
        return np.argpartition(-scores, kk)[:kk]

    out: dict[str, Any] = {}
    ms, rec = run(lambda q: top_k(data @ q, k))
    out["float32_exact"] = {"ms_p50": ms, "recall@10": rec, "mb": data.nbytes / 1e6}
    half = data.astype(np.float16)

    def float16(q: np.ndarray) -> np.ndarray:
        return top_k(half @ q.astype(np.float16), k)

    ms, rec = run(float16)
    out["float16_exact"] = {"ms_p50": ms, "recall@10": rec, "mb": half.nbytes / 1e6}
    if hasattr(np, "bitwise_count"):
        codes = np.ascontiguousarray(np.packbits(data > 0, axis=1).view(np.uint64).T)  # word-major, as the store

        def binary(q: np.ndarray) -> np.ndarray:
            qc = np.packbits(q > 0).view(np.uint64)
            dist = np.zeros(codes.shape[1], dtype=np.uint16)
            for w in range(codes.shape[0]):
                dist += np.bitwise_count(codes[w] ^ qc[w])
            cand = np.sort(np.argpartition(dist, rerank)[:rerank])
            return cand[top_k(data[cand] @ q, k)]

        ms, rec = run(binary)
        out[f"binary_rerank{rerank}"] = {"ms_p50": ms, "recall@10": rec, "mb": codes.nbytes / 1e6,
                                         "note": "codes in RAM; float32 rows for the re-rank read from the matrix"}
        del codes
    rng = np.random.default_rng(3)
    proj = (rng.normal(size=(dim, 128)) / math.sqrt(128)).astype(np.float32)
    small = data @ proj

    def projected(q: np.ndarray) -> np.ndarray:
        cand = top_k(small @ (q @ proj), rerank)
        return cand[top_k(data[cand] @ q, k)]

    ms, rec = run(projected)
    out[f"proj128_rerank{rerank}"] = {"ms_p50": ms, "recall@10": rec, "mb": small.nbytes / 1e6}
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="100000,1000000", help="corpus sizes (default 100000,1000000)")
    parser.add_argument("--queries", type=int, default=200, help="queries per size (default 200)")
    parser.add_argument("--ingest", type=int, default=2000, help="memories for the ingest test (default 2000; 0 skips it)")
    parser.add_argument("--noise", type=float, default=0.6, help="noise added to topic vectors (default 0.6)")
    parser.add_argument("--keep", metavar="DIR", help="build the databases here and keep them")
    parser.add_argument("--no-plans", action="store_true", help="skip the comparison of 1M vector search plans")
    parser.add_argument("--json", metavar="PATH", help="also write the report as JSON")
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",") if s]
    model = OnnxEmbedder()
    vocab = Vocabulary(random.Random(11))
    report: dict[str, Any] = {"machine": f"{platform.machine()} {platform.python_version()}, "
                                         f"numpy {np.__version__}", "sizes": {}}
    with tempfile.TemporaryDirectory(prefix="nexus-scale-") as tmpdir:
        tmp = Path(args.keep) if args.keep else Path(tmpdir)
        tmp.mkdir(parents=True, exist_ok=True)
        print("ingest with embeddings ...", file=sys.stderr)
        report["ingest"] = bench_ingest(model, args.ingest, tmp) if args.ingest else {}
        base_topics = sorted(set(topic_sentences(3000, vocab)))
        t = time.perf_counter()
        base_vecs = np.asarray(model.embed(base_topics), dtype=np.float32)
        report["topic_vectors"] = {"count": len(base_topics), "embed_secs": time.perf_counter() - t}
        # a query names part of a topic plus a word of its own, like a person half-remembering
        queries = [" ".join([*vocab.rng.sample(vocab.rng.choice(base_topics).lower().split(), 3), *vocab.sample(1)])
                   for _ in range(args.queries)]
        for size in sizes:
            path = tmp / f"scale-{size}.db"
            print(f"size {size}: building ...", file=sys.stderr)
            built = {} if path.exists() else build_corpus(path, size, model, base_topics, base_vecs, args.noise, size)
            print(f"size {size}: searching ...", file=sys.stderr)
            report["sizes"][str(size)] = {**built, **bench_size(path, size, model, queries, "", not args.no_plans)}
            print(render_size(report["sizes"][str(size)]), flush=True)
    if report["ingest"]:
        print(render_ingest(report["ingest"]))
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2), "utf-8")
    return 0


def render_size(r: dict[str, Any]) -> str:
    lines = [f"== {r['size']:,} memories (matrix {r['matrix_mb']:.0f} MB, first load from SQLite "
             f"{r['matrix_load_ms']:.0f} ms, from the snapshot in a new process {r['snapshot_load_ms']:.0f} ms"
             + (f"; built in {r['build_secs']:.0f} s" if "build_secs" in r else "") + ")",
             f"   query embedding p50 {r['query_embedding_ms_p50']:.1f} ms"]
    for key in ("hybrid", "hybrid_fused", "hybrid_before", "hybrid_one_agent", "bm25", "vector"):
        lines.append(f"   {key:<17} p50 {r[key]['p50']:7.1f} ms   p95 {r[key]['p95']:7.1f} ms")
    if r["plans"]:
        lines.append("   vector search plans (per query, search only):")
    for name, p in r["plans"].items():
        lines.append(f"     {name:<20} {p['ms_p50']:7.1f} ms  recall@10 {p['recall@10']:.3f}  {p['mb']:7.0f} MB")
    return "\n".join(lines)


def render_ingest(r: dict[str, float]) -> str:
    lines = ["== ingest through MemoryService.store_many (batches of 64), memories/s"]
    for corpus in ("english", "identifiers"):
        lines.append(f"   {corpus:<12} ({r[f'{corpus}_tokens_per_text']:.0f} tokens/text): "
                     f"plain {r[f'{corpus}_plain_per_sec']:.0f}, with embeddings {r[f'{corpus}_embedded_per_sec']:.0f}, "
                     f"with embeddings + context (2 vectors) {r[f'{corpus}_embedded_with_context_per_sec']:.0f}")
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
