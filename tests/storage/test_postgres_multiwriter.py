"""Four processes acting as four machines (separate pools) on one PostgreSQL database."""

from __future__ import annotations

import multiprocessing as mp
from typing import Any

import pytest

from nexus_memory.domain.models import MemoryFilter, NewMemory

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

WORKERS = 4
UNIQUE_PER_WORKER = 60
SHARED = 40  # every worker stores these same texts: dedup must keep one copy each
JOBS = 120


def _machine(url: str, worker: int, start: Any, out: Any) -> None:
    from nexus_memory.storage.postgres import PostgresStore

    store = PostgresStore(url, max_size=3)
    try:
        start.wait(30)
        ns = store.ensure_namespace("codex")
        claimed: list[int] = []
        created: list[int] = []
        searches = 0
        for i in range(max(UNIQUE_PER_WORKER, SHARED)):
            batch = []
            if i < UNIQUE_PER_WORKER:
                batch.append(NewMemory(agent="codex", content=f"machine {worker} note {i} about caching",
                                       labels=(f"w{worker}",)))
            if i < SHARED:
                batch.append(NewMemory(agent="claude", content=f"Shared fact number {i}", labels=(f"from-{worker}",),
                                       session_key=f"session-{worker}"))
            for outcome in store.store_many(batch):
                if outcome.created:
                    created.append(outcome.memory.id)
            if i % 5 == 0:
                store.text_search("caching note", MemoryFilter(), limit=5)
                searches += 1
            for job in store.claim_jobs(f"machine-{worker}", namespace_id=ns.id, limit=2, ttl_secs=600):
                claimed.append(job.id)
                store.complete_job(job.id, f"machine-{worker}", job.claim_token or "")
        while True:
            jobs = store.claim_jobs(f"machine-{worker}", namespace_id=ns.id, limit=4, ttl_secs=600)
            if not jobs:
                break
            for job in jobs:
                claimed.append(job.id)
                store.complete_job(job.id, f"machine-{worker}", job.claim_token or "")
        out.put({"worker": worker, "claimed": claimed, "created": created, "searches": searches})
    except BaseException as exc:  # report instead of hanging the parent
        out.put({"worker": worker, "error": repr(exc)})
        raise
    finally:
        store.close()


def test_four_machines_store_search_and_claim(pg_url: str) -> None:
    from nexus_memory.storage.postgres import PostgresStore

    setup = PostgresStore(pg_url)
    ns = setup.ensure_namespace("codex")
    job_ids = {setup.enqueue_job(ns.id, "derive_memory", {"memory_id": i}) for i in range(JOBS)}
    setup.close()

    ctx = mp.get_context("spawn")
    start = ctx.Event()
    out = ctx.Queue()
    procs = [ctx.Process(target=_machine, args=(pg_url, w, start, out)) for w in range(WORKERS)]
    for p in procs:
        p.start()
    start.set()
    results = [out.get(timeout=240) for _ in procs]
    for p in procs:
        p.join(60)
    errors = [r["error"] for r in results if "error" in r]
    assert not errors, errors

    store = PostgresStore(pg_url)
    try:
        # nothing lost, no duplicates
        everything = store.list_memories(MemoryFilter(include_raw=True), limit=10_000)
        contents = [m.content for m in everything]
        assert len(contents) == len(set(contents)) == WORKERS * UNIQUE_PER_WORKER + SHARED
        created = [i for r in results for i in r["created"]]
        assert sorted(created) == sorted(m.id for m in everything)
        shared = [m for m in everything if m.content.startswith("Shared fact")]
        assert len(shared) == SHARED
        for memory in shared:  # every machine's labels and session keys merged into the one copy
            assert set(memory.labels) == {f"from-{w}" for w in range(WORKERS)}
            assert memory.access_count == WORKERS - 1
        assert {m.agent for m in shared} == {"claude"}
        # jobs claimed exactly once
        claimed = [j for r in results for j in r["claimed"]]
        assert len(claimed) == len(set(claimed)) == JOBS
        assert set(claimed) == job_ids
        assert store.count_jobs_by_status(ns.id)["completed"] == JOBS
        assert all(r["searches"] > 0 for r in results)
    finally:
        store.close()
