"""Cognition benchmarks: retrieval quality on the evaluation fixture, reflection and representation speed.

    make bench-cognition

1. The evaluation fixture (22 memories, 8 literal and paraphrased queries): recall, precision,
   contradiction surfacing and latency for text-only, hybrid and full-cognition retrieval, once
   without embeddings and once with the local ONNX MiniLM model when it is installed.
2. Reflection over 1,000 memories on a real SQLite file (target < 2 s; upstream needs ~0.8 s for 40),
   a second idempotent pass, and working-representation builds over the same data.
Numbers go to BENCHMARKS.md ("Cognition (issue 6)").
"""

from __future__ import annotations

import os
import random
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

from nexus_memory.app import build_app
from nexus_memory.config import load_settings
from nexus_memory.domain.enums import CognitiveLevel
from nexus_memory.domain.timeutil import utcnow
from nexus_memory.services import evaluation
from nexus_memory.services.memories import StoreRequest

SUBJECTS = ["the billing service", "the search index", "the auth gateway", "the mobile app", "the CLI",
            "the nightly export", "the webhook relay", "the metrics pipeline", "the admin dashboard",
            "the payment worker", "the cache layer", "the email sender", "the ingest queue", "the PDF renderer",
            "the feature flag service", "the session store", "the audit log", "the upload API", "the scheduler",
            "the config loader", "the image resizer", "the report builder", "the SSO bridge", "the rate limiter",
            "the backup job", "the notification hub", "the GraphQL layer", "the data importer", "the sandbox",
            "the invoice generator"]
FACTS = ["retries failed calls {n} times", "uses a pool of {n} workers", "times out after {n} seconds",
         "runs on Postgres {n}", "keeps {n} days of history", "is deployed on Tuesdays",
         "is enabled in production", "caches results in Redis", "logs every request as JSON",
         "is owned by the platform team", "pages on-call after {n} errors", "batches {n} records per write",
         "is written in Go", "reads its settings from environment variables", "exposes Prometheus metrics"]
#: Same meaning, different words (reinforcement) or opposite meaning (contradiction).
VARIANTS = {"is enabled in production": ["is disabled in production", "is enabled in production environments"],
            "caches results in Redis": ["does not cache results in Redis", "caches its results in Redis"],
            "is written in Go": ["is no longer written in Go", "is written in the Go language"],
            "logs every request as JSON": ["logs each request as JSON", "does not log requests as JSON"]}
TAILS = ["", " according to the runbook", " since the last incident", " per the design doc",
         " as agreed in review", " on every environment", " for now", " after the migration"]


def corpus(n: int, seed: int = 7) -> list[str]:
    """Distinct statements with realistic overlap: repeats with new wording, negations, changed numbers."""
    rng = random.Random(seed)
    out: list[str] = []
    seen: set[str] = set()
    while len(out) < n:
        subject, fact = rng.choice(SUBJECTS), rng.choice(FACTS)
        if fact in VARIANTS and rng.random() < 0.5:
            fact = rng.choice(VARIANTS[fact])
        text = f"{subject.capitalize()} {fact.format(n=rng.choice([3, 5, 10, 20, 30, 60]))}{rng.choice(TAILS)}"
        if text.casefold() not in seen:
            seen.add(text.casefold())
            out.append(text)
    return out


def app_in(home: Path, embeddings: str) -> object:
    env = {**os.environ, "NEXUS_HOME": str(home), "NEXUS_EMBEDDING_BACKEND": embeddings}
    env.pop("NEXUS_DATABASE_URL", None)
    env.pop("NEXUS_DATABASE_PATH", None)
    return build_app(load_settings(env))


def eval_run(embeddings: str) -> dict[str, object] | None:
    with tempfile.TemporaryDirectory() as tmp:
        app = app_in(Path(tmp), embeddings)
        try:
            if embeddings != "none" and not app.embeddings.available():  # type: ignore[attr-defined]
                print(f"(embeddings '{embeddings}' not available: {app.embeddings.unavailable_reason()})")  # type: ignore[attr-defined]
                return None
            report = evaluation.evaluate(app, utcnow())  # type: ignore[arg-type]
        finally:
            app.close()  # type: ignore[attr-defined]
    print(evaluation.render(report))
    print()
    return report


def reflection_run(n: int = 1000) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        app = app_in(Path(tmp), "none")
        try:
            now = utcnow()
            texts = corpus(n)
            news = [replace(app.memories.build(StoreRequest(content=t, agent="bench", session_key=f"s{i % 25}")),  # type: ignore[attr-defined]
                            created_at=now - timedelta(minutes=n - i)) for i, t in enumerate(texts)]
            app.store.store_many(news)  # type: ignore[attr-defined]
            t0 = time.perf_counter()
            first = app.cognition.reflect("bench", limit=n).to_dict()  # type: ignore[attr-defined]
            t1 = time.perf_counter()
            second = app.cognition.reflect("bench", limit=n).to_dict()  # type: ignore[attr-defined]
            t2 = time.perf_counter()
            print(f"reflection over {first['candidates']} memories: {(t1 - t0) * 1000:.0f} ms "
                  f"({first['pairs_compared']} candidate pairs of {n * (n - 1) // 2} possible; "
                  f"{len(first['reinforcements'])} reinforcement clusters, {len(first['contradictions'])} "
                  f"contradictions, {len(first['insights'])} insights, {len(first['superseded'])} superseded)")
            print(f"second (idempotent) pass: {(t2 - t1) * 1000:.0f} ms, "
                  f"{len(second['contradictions']) + len(second['reinforcements'])} new findings")
            times = []
            for q in ("billing retries", "auth gateway timeout", "cache layer redis", "scheduler workers"):
                s = time.perf_counter()
                app.cognition.represent("bench", query=q)  # type: ignore[attr-defined]
                times.append((time.perf_counter() - s) * 1000)
            print(f"working representation over {n} memories (+ reflection output): "
                  f"median {statistics.median(times):.1f} ms, max {max(times):.1f} ms")
            levels = app.store.count(__import__("nexus_memory.domain.models", fromlist=["MemoryFilter"])  # type: ignore[attr-defined]
                                     .MemoryFilter(levels=(CognitiveLevel.CONTRADICTION,)))
            print(f"contradiction memories stored: {levels}")
        finally:
            app.close()  # type: ignore[attr-defined]


def main() -> int:
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cpus\n")
    print("== evaluation fixture, no embeddings")
    eval_run("none")
    print("== evaluation fixture, local ONNX embeddings (all-MiniLM-L6-v2)")
    eval_run("onnx")
    print("== reflection")
    reflection_run(1000)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
