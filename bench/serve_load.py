"""Load on `nexus serve` (issue 5). Run: `make bench-serve` (python -m bench.serve_load).

A real `nexus serve` process on a loopback port, a database pre-filled with --memories
(10,000) memories, then --clients (50) concurrent HTTP clients, each an "agent" that
mixes stores (--store-share, 30 %) and searches with a think time between requests,
for --seconds (30) and at most --max-ops operations per client. Afterwards every
acknowledged write is read back from the database file.

Pass: zero errors, every acknowledged write present with its content, search p95 <= 50 ms.
Results go to stdout and bench/results/serve_load.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from bench.corpus import Corpus
from bench.store import AGENTS, LABELS
from nexus_memory.app import build_app
from nexus_memory.config import load_settings
from nexus_memory.services.memories import StoreRequest

RESULTS = Path(__file__).resolve().parent / "results"


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def prefill(env: dict[str, str], count: int, corpus: Corpus) -> float:
    """Store `count` memories through MemoryService (embedded when the backend embeds)."""
    t0 = time.perf_counter()
    rng = corpus.rng
    app = build_app(load_settings(env))
    try:
        batch: list[StoreRequest] = []
        for i in range(count):
            batch.append(StoreRequest(content=corpus.content(i), agent=rng.choice(AGENTS),
                                      labels=tuple(rng.sample(LABELS, rng.randint(0, 2)))))
            if len(batch) == 500:
                app.memories.store_many(batch)
                batch = []
        if batch:
            app.memories.store_many(batch)
    finally:
        app.close()
    return time.perf_counter() - t0


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def client(n: int, base: str, deadline: float, args: argparse.Namespace, stats: dict[str, Any]) -> None:
    corpus = Corpus(seed=1000 + n)
    rng = corpus.rng
    agent = AGENTS[n % len(AGENTS)]
    async with httpx.AsyncClient(base_url=base, timeout=30) as http:
        for seq in range(args.max_ops):
            if time.monotonic() >= deadline:
                return
            await asyncio.sleep(rng.uniform(0, 2 * args.think_ms / 1000))
            storing = rng.random() < args.store_share
            t0 = time.perf_counter()
            try:
                if storing:
                    text = f"load client {n} op {seq}: {corpus.content(seq)}"
                    r = await http.post("/memories", json={"content": text, "agent_type": agent})
                    ok = r.status_code == 201
                    if ok:
                        stats["acked"].append((r.json()["id"], text))
                else:
                    r = await http.post("/memories/search", json={"query": corpus.query(), "limit": 10})
                    ok = r.status_code == 200
                took = (time.perf_counter() - t0) * 1000
                stats["store_ms" if storing else "search_ms"].append(took)
                if not ok:
                    stats["errors"].append(f"{r.status_code} {r.text[:200]}")
            except httpx.HTTPError as exc:
                stats["errors"].append(f"{type(exc).__name__}: {exc}")


async def load(base: str, args: argparse.Namespace) -> tuple[dict[str, Any], float]:
    stats: dict[str, Any] = {"store_ms": [], "search_ms": [], "errors": [], "acked": []}
    deadline = time.monotonic() + args.seconds
    t0 = time.perf_counter()
    await asyncio.gather(*(client(n, base, deadline, args, stats) for n in range(args.clients)))
    return stats, time.perf_counter() - t0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--memories", type=int, default=10_000)
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--max-ops", type=int, default=400, help="per client")
    ap.add_argument("--think-ms", type=float, default=1000.0,
                    help="mean pause between one client's requests (agents are not tight loops)")
    ap.add_argument("--store-share", type=float, default=0.3)
    ap.add_argument("--fresh", action="store_true", help="rebuild the cached prefilled database")
    ap.add_argument("--embeddings", default=os.environ.get("NEXUS_EMBEDDING_BACKEND", "onnx"),
                    help="onnx (the default install) or none (BM25 only)")
    args = ap.parse_args()

    corpus = Corpus(seed=7)
    with tempfile.TemporaryDirectory(prefix="nexus-serve-load-") as tmp:
        env = {**os.environ, "NEXUS_HOME": tmp, "NEXUS_EMBEDDING_BACKEND": args.embeddings}
        env.pop("NEXUS_DATABASE_URL", None)
        env.pop("NEXUS_DATABASE_PATH", None)
        env.pop("NEXUS_API_TOKEN", None)
        cached = RESULTS / f"serve_load-prefill-{args.memories}-{args.embeddings}.db"
        db = Path(tmp) / "data" / "nexus.db"
        if cached.exists() and not args.fresh:
            print(f"reusing the prefilled database {cached} (--fresh to rebuild it)", flush=True)
            db.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(cached, db)
            prefill_s = 0.0
        else:
            print(f"prefilling {args.memories} memories (embeddings: {args.embeddings}) ...", flush=True)
            prefill_s = prefill(env, args.memories, corpus)
            RESULTS.mkdir(exist_ok=True)
            shutil.copyfile(db, cached)
        port = free_port()
        nexus = str(Path(sys.executable).with_name("nexus"))
        server = subprocess.Popen([nexus, "serve", "--port", str(port)], env=env, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True)
        base = f"http://127.0.0.1:{port}/api/v1"
        try:
            for _ in range(200):
                try:
                    if httpx.get(base + "/health", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    time.sleep(0.1)
            else:
                raise SystemExit("nexus serve did not start")
            # one warm-up search so a lazily loaded model is not billed to the first client
            httpx.post(base + "/memories/search", json={"query": "warm up the database pool"}, timeout=60)
            print(f"{args.clients} clients for {args.seconds:.0f} s ...", flush=True)
            stats, wall = asyncio.run(load(base, args))
        finally:
            server.terminate()
            try:
                server.wait(15)
            except subprocess.TimeoutExpired:
                server.kill()
        app = build_app(load_settings(env))
        try:
            found = {m.id: m.content for m in app.store.get_many([i for i, _ in stats["acked"]])}
            total = app.memories.count()
        finally:
            app.close()
    missing = [i for i, text in stats["acked"] if found.get(i) != text]
    ops = len(stats["store_ms"]) + len(stats["search_ms"])
    result = {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": f"{platform.machine()} {os.cpu_count()} cpu, Python {platform.python_version()}",
        "config": vars(args),
        "prefill_s": round(prefill_s, 1),
        "wall_s": round(wall, 1),
        "ops": ops,
        "throughput_ops_s": round(ops / wall, 1),
        "stores": len(stats["store_ms"]),
        "searches": len(stats["search_ms"]),
        "errors": len(stats["errors"]),
        "error_samples": stats["errors"][:5],
        "acknowledged_writes": len(stats["acked"]),
        "missing_writes": len(missing),
        "memories_after": total,
        "search_ms": {"p50": round(pct(stats["search_ms"], 50), 1), "p95": round(pct(stats["search_ms"], 95), 1),
                      "p99": round(pct(stats["search_ms"], 99), 1),
                      "mean": round(statistics.fmean(stats["search_ms"]), 1) if stats["search_ms"] else None},
        "store_ms": {"p50": round(pct(stats["store_ms"], 50), 1), "p95": round(pct(stats["store_ms"], 95), 1),
                     "p99": round(pct(stats["store_ms"], 99), 1)},
    }
    result["pass"] = result["errors"] == 0 and result["missing_writes"] == 0 and result["search_ms"]["p95"] <= 50
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "serve_load.json").write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))
    print(f"{'PASS' if result['pass'] else 'FAIL'}: errors={result['errors']} missing={result['missing_writes']} "
          f"search p95={result['search_ms']['p95']} ms (target <= 50) at {args.memories} memories, "
          f"{result['throughput_ops_s']} ops/s")
    return 0 if result["pass"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
