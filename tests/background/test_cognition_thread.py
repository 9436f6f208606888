"""The background worker of `nexus serve`: drains the queue and dreams namespaces that changed."""

from __future__ import annotations

import time

from nexus_memory.app import App
from nexus_memory.background.cognition_thread import CognitionThread
from tests.cognition.helpers import put


def test_tick_drains_and_dreams_changed_namespaces(app: App) -> None:
    put(app, "The deploy pipeline runs on Tuesdays", session="w1")
    put(app, "Release notes are written by the on-call engineer", session="w1")
    app.cognition.enqueue("claude-code", "digest_session", {"session_key": "w1", "reason": "session_end"})
    worker = CognitionThread(app.cognition)
    due = worker.tick(now=100.0, next_dream=0.0)
    assert worker.status.jobs_processed >= 1 and worker.status.dreams == 1
    assert 100.0 + 60 <= due <= 100.0 + 1800
    assert app.cognition.latest_digests("claude-code", "w1").to_dict()["short"] is not None
    # Fewer than dream_memory_threshold (20) new memories: the next due dream skips the namespace.
    put(app, "One more note", session="w1")
    worker.tick(now=due, next_dream=due)
    assert worker.status.dreams == 1 and worker.status.errors == []
    for i in range(20):
        put(app, f"Batch note {i}", session="w2")
    worker.tick(now=due * 2, next_dream=due * 2)
    assert worker.status.dreams == 2


def test_thread_starts_and_stops(app: App) -> None:
    app.cognition.enqueue("claude-code", "reflect_namespace", {"reason": "test"})
    worker = app.cognition.start_thread(poll_secs=0.05)
    assert worker is not None
    deadline = time.monotonic() + 30
    while app.cognition.job_counts()["completed"] < 1 and time.monotonic() < deadline:
        time.sleep(0.05)
    worker.stop()
    assert app.cognition.job_counts()["completed"] >= 1 and not worker.status.running
