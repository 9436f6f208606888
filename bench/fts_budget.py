"""Full-text search cost versus ranking fidelity for NEXUS_FTS_BUDGET. Run: `make bench-fts`.

Fills one SQLite store with synthetic memories (bench/corpus.py, Zipf vocabulary with common
technical words), then runs the same queries at several budgets and reports p50/p95 latency
and the share of each query's exact-BM25 top 10 that the budgeted plan also returns.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.corpus import Corpus
from bench.store import new_memory, pct
from nexus_memory.domain.models import MemoryFilter
from nexus_memory.storage.sqlite import SQLiteStore

EXACT = 10**12


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("--budgets", default="1000,5000,20000,0")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        store = SQLiteStore(Path(tmp) / "fts.db")
        corpus = Corpus(42)
        for start in range(0, args.size, 2000):
            store.store_many([new_memory(corpus, i) for i in range(start, min(args.size, start + 2000))])
        queries = [corpus.query() for _ in range(args.queries)]
        flt = MemoryFilter()

        def run(budget: int) -> tuple[list[float], dict[str, list[int]]]:
            store.fts_budget = budget
            latencies, results = [], {}
            for q in queries:
                t0 = time.perf_counter()
                hits = store.text_search(q, flt, limit=10)
                latencies.append((time.perf_counter() - t0) * 1000)
                results[q] = [h.memory_id for h in hits]
            return latencies, results

        run(EXACT)  # warm the page cache
        _, exact = run(EXACT)
        print(f"{args.size} memories, {len(queries)} queries")
        for raw in args.budgets.split(","):
            budget = int(raw) or EXACT
            lat, res = run(budget)
            overlap = statistics.mean(len(set(res[q]) & set(exact[q])) / max(1, len(exact[q])) for q in queries)
            label = raw if int(raw) else "0 (exact)"
            print(f"NEXUS_FTS_BUDGET={label:>10}  p50={pct(lat, .5):7.2f} ms  p95={pct(lat, .95):7.2f} ms  "
                  f"top-10 overlap with exact={overlap:.2f}")
        store.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
