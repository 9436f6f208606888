"""The job engine: bounded drains, failures and retries, deadlines, runtime wiring and multi-process safety."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from nexus_memory.app import App
from nexus_memory.domain.enums import JobType
from nexus_memory.domain.models import Job
from nexus_memory.storage.base import MAX_JOB_ATTEMPTS
from tests.cognition.helpers import put, raw_event


def test_drain_runs_stages_in_order_and_completes(app: App) -> None:
    for i in range(8):
        raw_event(app, i, session="s-q")
    app.cognition.enqueue("claude-code", JobType.ACTIVITY_DISTILL, {"session_key": "s-q"})
    r = app.cognition.drain("test-owner")
    assert r.processed == 1 and r.failed == 0
    assert app.cognition.job_counts()["completed"] == 1


def test_failing_job_is_retried_then_failed_for_good_and_retryable(app: App) -> None:
    ns = app.cognition.namespace("claude-code")
    jid = app.store.enqueue_job(ns.id, JobType.ACTIVITY_DISTILL.value, {})  # no session key -> error
    assert jid is not None
    for _ in range(MAX_JOB_ATTEMPTS):
        app.cognition.drain("w", rounds=1)
    failed = app.cognition.jobs(status="failed")
    assert [j.id for j in failed] == [jid] and failed[0].attempts == MAX_JOB_ATTEMPTS
    assert "payload.session_key" in (failed[0].last_error or "")
    retried = app.cognition.retry(jid)
    assert retried[0].status.value == "pending" and retried[0].attempts == 0


def test_enqueue_if_absent(app: App) -> None:
    first = app.cognition.enqueue("claude-code", "digest_session", {"session_key": "x"})
    second = app.cognition.enqueue("claude-code", "digest_session", {"session_key": "x"})
    assert first is not None and second is None


def test_deadline_stops_claiming(app: App) -> None:
    for i in range(3):
        app.cognition.enqueue("claude-code", "digest_session", {"session_key": f"s{i}"})
    r = app.cognition.engine.drain("w", deadline=0.0)
    assert r.timed_out and r.processed == 0
    assert app.cognition.job_counts()["pending"] == 3


def test_queued_jobs_drain_on_session_start(app: App) -> None:
    for i in range(8):
        raw_event(app, i, session="s-start")
    app.cognition.enqueue("claude-code", JobType.ACTIVITY_DISTILL, {"session_key": "s-start"})
    app.sessions.start("claude-code", "s-start", "/work/proj")
    assert app.cognition.job_counts()["completed"] == 1
    ns = app.cognition.namespace("claude-code")
    assert app.store.latest_digest(ns.id, "short") is None  # distill is not a digest
    jobs: list[Job] = app.cognition.jobs(status="completed")
    assert jobs[0].job_type == JobType.ACTIVITY_DISTILL.value
    # The raw events persist, active: distillation extracts from them and never archives them.
    from nexus_memory.domain.models import MemoryFilter

    active = MemoryFilter(agents=("claude-code",), include_raw=True, include_bookkeeping=True)
    levels = [m.level().value for m in app.store.list_memories(active, limit=100)]
    assert levels.count("raw") == 8 and "explicit" in levels and levels.count("summary_short") == 0


def test_session_end_runs_the_bounded_dream(app: App) -> None:
    app.sessions.start("claude-code", "s-end", "/w")
    put(app, "We ship on Tuesdays", session="s-end")
    put(app, "Releases need a changelog entry", session="s-end")
    r = app.sessions.end("claude-code", "s-end", "/w")
    assert r.warnings == []
    d = app.cognition.latest_digests("claude-code", "s-end").to_dict()
    assert d["short"] is not None and "ship on Tuesdays" in d["short"]["content"]


_WORKER = """
import sys
from nexus_memory.app import build_app
app = build_app()
r = app.cognition.drain(sys.argv[1], rounds=5)
app.close()
print(r.processed, r.failed)
"""


def test_several_processes_drain_each_job_once(app: App, tmp_path: Path) -> None:
    sessions = [f"mp-{i}" for i in range(12)]
    for key in sessions:
        put(app, f"Work item for {key} is done", session=key)
        put(app, f"The review of {key} found nothing to change", session=key)
        app.cognition.enqueue("claude-code", "digest_session", {"session_key": key, "reason": "session_end"})
    procs = [subprocess.Popen([sys.executable, "-c", _WORKER, f"worker-{n}"], stdout=subprocess.PIPE, text=True)
             for n in range(3)]
    outs = [p.communicate(timeout=120)[0] for p in procs]
    assert all(p.returncode == 0 for p in procs)
    processed = sum(int(o.split()[0]) for o in outs)
    assert processed == len(sessions)
    jobs = app.cognition.jobs(status="completed", limit=100)
    assert len(jobs) == len(sessions) and all(j.attempts == 1 for j in jobs)
    ns = app.cognition.namespace("claude-code")
    for key in sessions:
        assert len([d for d in app.store.list_digests(ns.id, key) if d.digest_kind == "short"]) == 1


def test_shutdown_schedule_follows_the_session_signals(app: App) -> None:
    from nexus_memory.cognition.dream import DreamScheduleAction
    from nexus_memory.domain.enums import RuntimeShutdownReason

    cog = app.cognition
    assert cog.shutdown_schedule("claude-code", "empty", RuntimeShutdownReason.SESSION_ENDED) is (
        DreamScheduleAction.SKIP)
    put(app, "We pin Node 20", session="idle-1")
    assert cog.shutdown_schedule("claude-code", "idle-1", RuntimeShutdownReason.IDLE_TIMEOUT) is (
        DreamScheduleAction.DELAYED_ENQUEUE)
    assert cog.shutdown_schedule("claude-code", "idle-1", RuntimeShutdownReason.SESSION_ENDED) is (
        DreamScheduleAction.IMMEDIATE_BOUNDED)
    # An idle timeout queues the dream for later instead of running it now.
    cog.on_runtime_shutdown("claude-code", "idle-1", None, RuntimeShutdownReason.IDLE_TIMEOUT)
    assert cog.latest_digests("claude-code", "idle-1").short is None
    assert sorted(j.job_type for j in cog.jobs(status="pending")) == ["digest_session", "reflect_perspective"]
    raw_event(app, 1, session="raw-only")
    assert cog.shutdown_schedule("claude-code", "raw-only", RuntimeShutdownReason.MANUAL) is (
        DreamScheduleAction.DIGEST_ONLY)
