"""SQLite vs PostgreSQL + pgvector, side by side in one run (issue 7). Run: `make bench-backends`
(or `python -m bench.backends` with NEXUS_BENCH_DATABASE_URL set).

For each backend, on a fresh database:
  * single-store rate (one `store()` per memory: the hook path) on the first `--single` memories;
  * bulk store rate (`store_many`, batches of 500) up to `--n` memories;
  * vector upsert rate (384-dim clustered vectors, batches of 1000) for `--vectors` memories;
then, interleaved query by query so both see the same machine noise:
  * full-text search p50/p95 (`text_search`, limit 10), unfiltered and filtered to one agent;
  * vector search p50/p95 (limit 10), plus PostgreSQL's HNSW recall@10 against SQLite's exact search.

PostgreSQL comes from NEXUS_BENCH_DATABASE_URL or NEXUS_TEST_DATABASE_URL (`make bench-backends`
starts a throwaway cluster with scripts/services/10-postgres.sh); a fresh database is created there.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from bench.corpus import Corpus
from bench.store import AGENTS, new_memory, pct, queries
from nexus_memory.domain.models import MemoryFilter
from nexus_memory.storage.sqlite import SQLiteStore

MODEL = "bench-minilm-384"


def clustered_vectors(n: int, dim: int, seed: int) -> Any:
    import numpy as np

    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((max(10, n // 100), dim)).astype("float32")
    picks = rng.integers(0, centres.shape[0], n)
    return centres[picks] + 0.35 * rng.standard_normal((n, dim)).astype("float32")


def fill(store: Any, n: int, single: int, vectors: int, dim: int) -> dict[str, float]:
    corpus = Corpus(seed=7)
    items = [new_memory(corpus, i) for i in range(n)]
    t = time.perf_counter()
    for item in items[:single]:
        store.store(item)
    single_rate = single / (time.perf_counter() - t)
    t = time.perf_counter()
    for b in range(single, n, 500):
        store.store_many(items[b:b + 500])
    bulk_rate = (n - single) / (time.perf_counter() - t)
    vecs = clustered_vectors(vectors, dim, 11)
    ids = [m.id for m in store.memories_without_vectors(MODEL, limit=vectors)]
    t = time.perf_counter()
    for b in range(0, len(ids), 1000):
        store.upsert_vectors(MODEL, [(mid, "content", vecs[i].tolist())
                                     for i, mid in enumerate(ids[b:b + 1000], start=b)])
    vector_rate = len(ids) / (time.perf_counter() - t)
    out = {"single_store_per_s": round(single_rate), "bulk_store_per_s": round(bulk_rate),
           "vector_upsert_per_s": round(vector_rate), "memories": store.count(MemoryFilter(include_raw=True))}
    build = getattr(store, "ensure_vector_index", None)  # PostgreSQL: one HNSW build after the load
    if build is not None:
        t = time.perf_counter()
        build(MODEL, min_rows=0)
        out["hnsw_build_seconds"] = round(time.perf_counter() - t, 1)
    return out


def timed(fn: Any) -> tuple[float, Any]:
    t = time.perf_counter()
    out = fn()
    return (time.perf_counter() - t) * 1000, out


def compare(stores: dict[str, Any], n_queries: int, dim: int) -> dict[str, dict[str, float]]:
    rng = random.Random(3)
    texts = queries(Corpus(seed=3), n_queries)
    qvecs = clustered_vectors(n_queries, dim, 11)  # same centres as the data: queries near real clusters
    agents = [rng.choice(AGENTS) for _ in range(n_queries)]
    lat: dict[str, dict[str, list[float]]] = {name: {"fts": [], "fts_agent": [], "vector": [], "vector_agent": []}
                                              for name in stores}
    recall_hits = recall_total = 0
    for i in range(min(20, n_queries)):  # warm caches
        for store in stores.values():
            store.text_search(texts[i], MemoryFilter(), limit=10)
            store.vector_search(MODEL, qvecs[i].tolist(), MemoryFilter(), limit=10)
    for i in range(n_queries):
        q = qvecs[i].tolist()
        results: dict[str, list[int]] = {}
        text, mine = texts[i], MemoryFilter(agents=(agents[i],))
        for name, store in stores.items():  # interleaved: both backends share the noise
            ms, _ = timed(lambda s=store, t=text: s.text_search(t, MemoryFilter(), limit=10))
            lat[name]["fts"].append(ms)
            ms, _ = timed(lambda s=store, t=text, f=mine: s.text_search(t, f, limit=10))
            lat[name]["fts_agent"].append(ms)
            ms, hits = timed(lambda s=store, v=q: s.vector_search(MODEL, v, MemoryFilter(), limit=10))
            lat[name]["vector"].append(ms)
            results[name] = [h[0] for h in hits]
            ms, _ = timed(lambda s=store, v=q, f=mine: s.vector_search(MODEL, v, f, limit=10))
            lat[name]["vector_agent"].append(ms)
        if "sqlite" in results and "postgres" in results:
            recall_hits += len(set(results["sqlite"]) & set(results["postgres"]))
            recall_total += len(results["sqlite"])
    out: dict[str, dict[str, float]] = {}
    for name, kinds in lat.items():
        out[name] = {f"{kind}_{label}_ms": round(pct(values, q), 2)
                     for kind, values in kinds.items() for label, q in (("p50", 0.5), ("p95", 0.95))}
    if recall_total:
        out["postgres"]["hnsw_recall_at_10_vs_exact"] = round(recall_hits / recall_total, 3)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000, help="memories per backend (default 100000)")
    parser.add_argument("--single", type=int, default=1000, help="of which stored one at a time (default 1000)")
    parser.add_argument("--vectors", type=int, default=None, help="memories with a vector (default: all)")
    parser.add_argument("--dim", type=int, default=384)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--skip-postgres", action="store_true")
    args = parser.parse_args()
    vectors = args.n if args.vectors is None else args.vectors
    url = os.environ.get("NEXUS_BENCH_DATABASE_URL") or os.environ.get("NEXUS_TEST_DATABASE_URL")
    if not url and not args.skip_postgres:
        sys.stderr.write("no PostgreSQL: run `make bench-backends`, or set NEXUS_BENCH_DATABASE_URL\n")
        return 2
    stores: dict[str, Any] = {}
    build: dict[str, dict[str, float]] = {}
    dbname = "nexus_bench_" + uuid.uuid4().hex[:8]
    with tempfile.TemporaryDirectory() as tmp:
        stores["sqlite"] = SQLiteStore(Path(tmp) / "bench.db")
        if not args.skip_postgres and url:
            import psycopg

            from nexus_memory.storage.postgres import PostgresStore

            with psycopg.connect(url, autocommit=True) as conn:
                conn.execute(f'CREATE DATABASE "{dbname}"')
            stores["postgres"] = PostgresStore(url.rpartition("/")[0] + "/" + dbname)
        try:
            for name, store in stores.items():
                t = time.perf_counter()
                build[name] = fill(store, args.n, args.single, vectors, args.dim)
                build[name]["build_seconds"] = round(time.perf_counter() - t, 1)
                sys.stderr.write(f"{name}: {build[name]}\n")
            search = compare(stores, args.queries, args.dim)
        finally:
            for store in stores.values():
                store.close()
            if "postgres" in stores and url:
                import psycopg

                with psycopg.connect(url, autocommit=True) as conn:
                    conn.execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')
    report = {"machine": f"{platform.platform()} / {os.cpu_count()} cpu / python {platform.python_version()}",
              "n": args.n, "vectors": vectors, "dim": args.dim, "queries": args.queries,
              "results": {name: {**build[name], **search.get(name, {})} for name in stores}}
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
