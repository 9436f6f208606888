"""Store and full-text search benchmark (issue 2). Run: `make bench-store`.

Measures, in one run so the ratios are side by side on the same noisy machine:
  * bulk store rate (memories/s, no embeddings) through the store (`store_many`) and through
    MemoryService (validation, redaction, cognitive metadata), in batches;
  * FTS search latency p50/p95 at each size (store.text_search, and SearchService.search which
    also loads the hit memories);
  * cold `nexus store` wall time beside `python -c pass` (median of N, interleaved).
Targets (2-core machine): >= 5,000 memories/s bulk, FTS p95 <= 5 ms at 100k,
cold `nexus store` <= 6x `python -c pass`.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nexus_memory
from bench.corpus import Corpus
from nexus_memory.domain.enums import CognitiveLevel, MemoryCategory
from nexus_memory.domain.models import CognitiveMetadata, MemoryFilter, NewMemory
from nexus_memory.services.memories import MemoryService, StoreRequest
from nexus_memory.services.search import SearchQuery, SearchService
from nexus_memory.storage.sqlite import SQLiteStore

AGENTS = ["claude-code", "gemini", "codex", "qwen", "opencode", "droid", "cursor", "copilot"]
LABELS = ["db", "infra", "ci", "auth", "perf", "bug", "decision", "frontend", "ops", "testing"]


def new_memory(corpus: Corpus, i: int) -> NewMemory:
    rng = corpus.rng
    agent = rng.choice(AGENTS)
    cog = CognitiveMetadata.new(CognitiveLevel.EXPLICIT, agent, agent, f"s{i // 50}", "bench")
    return NewMemory(agent=agent, content=corpus.content(i), category=rng.choice(list(MemoryCategory)),
                     labels=tuple(rng.sample(LABELS, rng.randint(0, 3))), metadata=cog.merge_into({}),
                     context=corpus.context() if rng.random() < 0.3 else None, session_key=f"s{i // 50}")


def request(corpus: Corpus, i: int) -> StoreRequest:
    rng = corpus.rng
    return StoreRequest(content=corpus.content(i), agent=rng.choice(AGENTS), category=rng.choice(list(MemoryCategory)),
                        labels=rng.sample(LABELS, rng.randint(0, 3)), session_key=f"s{i // 50}")


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(q * (len(ordered) - 1))))
    return ordered[k]


def fill(store: SQLiteStore, service: MemoryService, start: int, stop: int, batch: int, corpus: Corpus,
         via_service_share: float) -> tuple[float, float, int, int, float]:
    """Store memories [start, stop): most via the store, a share via the service.
    Returns (store rate, service rate, counts, store rate by CPU time)."""
    n_service = int((stop - start) * via_service_share)
    store_items = [new_memory(corpus, i) for i in range(start, stop - n_service)]
    t, cpu = time.perf_counter(), time.process_time()
    for b in range(0, len(store_items), batch):
        store.store_many(store_items[b : b + batch])
    store_secs, store_cpu = time.perf_counter() - t, time.process_time() - cpu
    reqs = [request(corpus, i) for i in range(stop - n_service, stop)]
    t = time.perf_counter()
    for b in range(0, len(reqs), batch):
        service.store_many(reqs[b : b + batch])
    service_secs = time.perf_counter() - t
    return (len(store_items) / store_secs if store_secs else 0.0,
            len(reqs) / service_secs if service_secs else 0.0, len(store_items), len(reqs),
            len(store_items) / store_cpu if store_cpu else 0.0)


def queries(corpus: Corpus, n: int) -> list[str]:
    return [corpus.query() for _ in range(n)]


def search_latency(store: SQLiteStore, search: SearchService, qs: list[str]) -> dict[str, float]:
    for q in qs[:20]:  # warm the page cache
        store.text_search(q, MemoryFilter(), limit=10)
    raw: list[float] = []
    raw_cpu: list[float] = []
    full: list[float] = []
    for q in qs:
        t, cpu = time.perf_counter(), time.thread_time()
        store.text_search(q, MemoryFilter(), limit=10)
        raw.append((time.perf_counter() - t) * 1000)
        raw_cpu.append((time.thread_time() - cpu) * 1000)
        t = time.perf_counter()
        search.search(SearchQuery(text=q, limit=10))
        full.append((time.perf_counter() - t) * 1000)
    return {"fts_p50_ms": pct(raw, 0.5), "fts_p95_ms": pct(raw, 0.95),
            "fts_cpu_p50_ms": pct(raw_cpu, 0.5), "fts_cpu_p95_ms": pct(raw_cpu, 0.95),
            "service_p50_ms": pct(full, 0.5), "service_p95_ms": pct(full, 0.95),
            "agreement_at_10": agreement(store, qs[:100])}


def agreement(store: SQLiteStore, qs: list[str]) -> float:
    """Mean share of exact-BM25 top-10 ids that the bounded plan also returns (1.0 = identical sets)."""
    shares = []
    for q in qs:
        bounded = {h.memory_id for h in store.text_search(q, MemoryFilter(), limit=10)}
        saved, store.fts_budget = store.fts_budget, 10**12
        try:
            exact = {h.memory_id for h in store.text_search(q, MemoryFilter(), limit=10)}
        finally:
            store.fts_budget = saved
        if exact:
            shares.append(len(exact & bounded) / len(exact))
    return sum(shares) / len(shares) if shares else 1.0


def cold_start(runs: int, home: Path, baseline: Path | None = None) -> dict[str, float]:
    """Cold `nexus store` beside `python -c pass`, interleaved. With `baseline` (another checkout),
    both trees run `python -m nexus_memory.cli.entry store` from their own sources (PYTHONPATH), on
    stores of their own, alternating which goes first: the CPU ratio between them is what counts."""
    nexus = str(Path(sys.executable).with_name("nexus"))
    # As after any install: bytecode caches exist (pip compiles wheels at install time). Without
    # them every start recompiles ~50 modules (~40 ms), which is not what a user sees.
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("NEXUS_") and k not in ("PYTHONDONTWRITEBYTECODE", "PYTHONPATH")}
    env.update(NEXUS_HOME=str(home), NEXUS_EMBEDDING_BACKEND="none")
    trees = {"this": Path(nexus_memory.__file__).resolve().parents[2]} | ({"baseline": baseline} if baseline else {})
    commands: dict[str, list[str]] = {}
    envs: dict[str, dict[str, str]] = {}
    for name, tree in trees.items():
        envs[name] = env if baseline is None else {**env, "NEXUS_HOME": str(home / name),
                                                   "PYTHONPATH": str(tree / "src")}
        commands[name] = [nexus] if baseline is None else [sys.executable, "-m", "nexus_memory.cli.entry"]
        subprocess.run([sys.executable, "-m", "compileall", "-q", str(tree / "src" / "nexus_memory")],
                       env=envs[name], check=True, capture_output=True)
        subprocess.run([*commands[name], "init"], env=envs[name], check=True, capture_output=True)
    base: list[float] = []
    base_cpu: list[float] = []
    wall: dict[str, list[float]] = {name: [] for name in trees}
    cpu: dict[str, list[float]] = {name: [] for name in trees}

    def timed(cmd: list[str], run_env: dict[str, str], wall_out: list[float], cpu_out: list[float]) -> None:
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t = time.perf_counter()
        subprocess.run(cmd, env=run_env, check=True, capture_output=True)
        wall_out.append(time.perf_counter() - t)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu_out.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)

    for i in range(runs):  # interleaved, so every variant sees the same machine
        timed([sys.executable, "-c", "pass"], env, base, base_cpu)
        for name in (list(trees) if i % 2 else list(trees)[::-1]):
            timed([*commands[name], "store", "--agent", "bench", "--content", f"cold start run {i}"], envs[name],
                  wall[name], cpu[name])
    b, bc = statistics.median(base), statistics.median(base_cpu)
    out = {"python_pass_ms": b * 1000, "python_pass_cpu_ms": bc * 1000}
    for name in trees:
        prefix = "" if name == "this" else f"{name}_"
        c, cc = statistics.median(wall[name]), statistics.median(cpu[name])
        out.update({f"{prefix}nexus_store_ms": c * 1000, f"{prefix}ratio": c / b,
                    f"{prefix}nexus_store_cpu_ms": cc * 1000, f"{prefix}cpu_ratio": cc / bc if bc else 0.0})
    if baseline is not None:
        out["cpu_vs_baseline"] = out["nexus_store_cpu_ms"] / out["baseline_nexus_store_cpu_ms"]
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="10000,100000", help="database sizes to measure at")
    ap.add_argument("--batch", type=int, default=500, help="memories per store_many call")
    ap.add_argument("--queries", type=int, default=300, help="search queries per size")
    ap.add_argument("--runs", type=int, default=15, help="cold-start runs (median)")
    ap.add_argument("--service-share", type=float, default=0.1, help="share of memories stored via MemoryService")
    ap.add_argument("--out", default="bench/results/store.json", help="where to write the JSON results")
    ap.add_argument("--baseline", metavar="DIR", type=Path,
                    help="another checkout whose cold `nexus store` is measured interleaved with this one's")
    args = ap.parse_args()
    sizes = sorted(int(s) for s in args.sizes.split(","))
    corpus = Corpus(seed=42)
    results: dict[str, object] = {
        "machine": f"{platform.machine()} {os.cpu_count()} cpus, Python {platform.python_version()}, "
                   f"SQLite {__import__('sqlite3').sqlite_version}",
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "sizes": {},
    }
    with tempfile.TemporaryDirectory(prefix="nexus-bench-") as tmp:
        store = SQLiteStore(Path(tmp) / "bench.db")
        service = MemoryService(store)
        search = SearchService(store)
        done = 0
        for size in sizes:
            store_rate, service_rate, n_store, n_service, store_cpu_rate = fill(store, service, done, size, args.batch, corpus,
                                                                args.service_share)
            done = size
            lat = search_latency(store, search, queries(corpus, args.queries))
            row = {"store_rate_per_s": store_rate, "store_rate_per_cpu_s": store_cpu_rate,
                   "service_rate_per_s": service_rate, "stored_via_store": n_store,
                   "stored_via_service": n_service, "count": store.count(MemoryFilter()), **lat}
            results["sizes"][str(size)] = row  # type: ignore[index]
            print(f"size {size:>7}: bulk store {store_rate:6.0f}/s ({store_cpu_rate:.0f}/CPU-s)  "
                  f"service {service_rate:6.0f}/s  "
                  f"FTS p50 {lat['fts_p50_ms']:.2f} ms p95 {lat['fts_p95_ms']:.2f} ms "
                  f"(CPU p50 {lat['fts_cpu_p50_ms']:.2f} p95 {lat['fts_cpu_p95_ms']:.2f})  "
                  f"search p50 {lat['service_p50_ms']:.2f} ms p95 {lat['service_p95_ms']:.2f} ms  "
                  f"top-10 agreement with exact BM25 {lat['agreement_at_10']:.2f}", flush=True)
        store.close()
        cold = cold_start(args.runs, Path(tmp) / "cold-home", args.baseline)
    results["cold_start"] = cold
    print(f"cold: python -c pass {cold['python_pass_ms']:.1f} ms, nexus store {cold['nexus_store_ms']:.1f} ms, "
          f"ratio {cold['ratio']:.2f}x; CPU time {cold['python_pass_cpu_ms']:.1f} vs {cold['nexus_store_cpu_ms']:.1f} ms, "
          f"ratio {cold['cpu_ratio']:.2f}x (median of {args.runs})")
    if args.baseline:
        print(f"baseline {args.baseline}: nexus store {cold['baseline_nexus_store_ms']:.1f} ms, CPU "
              f"{cold['baseline_nexus_store_cpu_ms']:.1f} ms; this tree's CPU / the baseline's: "
              f"{cold['cpu_vs_baseline']:.3f}")
    results["load_average"] = os.getloadavg()
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2))
    print(f"results written to {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
