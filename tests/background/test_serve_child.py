"""`nexus serve`'s background worker process: the pipe protocol, the worker loop, and a real child."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from nexus_memory.app import App, build_app
from nexus_memory.background.serve_child import ServeChild, ServeChildLoop, index_line, parse_line
from nexus_memory.background.throttle import ServerLoad
from nexus_memory.config import load_settings
from nexus_memory.domain.models import Memory
from nexus_memory.errors import ConfigError
from nexus_memory.services.memories import StoreRequest

WORKER_ARGV = [sys.executable, "-m", "nexus_memory.cli.main", "worker", "--no-cognition", "--nice", "0"]


@pytest.fixture
def app(nexus_home: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[App]:
    """The default install: the local onnx model (the worker child inherits this environment)."""
    monkeypatch.setenv("NEXUS_EMBEDDING_BACKEND", "onnx")
    application = build_app(load_settings())
    yield application
    application.close()


def _store_without_vectors(app: App, *texts: str) -> list[Memory]:
    app.memories.indexer = None  # as in `nexus serve`: the store commits, the worker embeds later
    return [app.memories.store(StoreRequest(content=t, agent="claude-code")).memory for t in texts]


def _has_vector(app: App, memory_id: int) -> bool:
    model = app.embeddings.model_id
    assert model is not None and app.embeddings.index is not None
    return bool(app.embeddings.index.get_vectors(memory_id, model))  # type: ignore[attr-defined]


def _wait(check: Callable[[], bool], seconds: float = 60) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.1)
    return check()


def test_protocol_lines_round_trip_and_garbage_is_ignored() -> None:
    assert parse_line(index_line([3, 1, 2])) == ("index", [3, 1, 2])
    assert parse_line("scan\n") == ("scan", [])
    for junk in ("", "   ", "index", "index x 2", "scan now", "embed 1", "{\"json\": 1}"):
        assert parse_line(junk) is None, junk
    assert parse_line("index 0 -4 7") == ("index", [7])


def test_worker_loop_embeds_the_ids_it_is_sent_and_what_its_scan_finds(app: App) -> None:
    told, found, gone = _store_without_vectors(app, "the deploy runs on Tuesdays", "pytest needs -x here",
                                               "a note archived before the worker saw it")
    app.memories.delete(gone.id)
    read, write = os.pipe()
    os.write(write, f"{index_line([told.id, gone.id])}not a command\nscan\n".encode())
    os.close(write)
    out = io.StringIO()
    loop = ServeChildLoop(index=app.embeddings.index_safely,
                      missing=app.embeddings.missing_ids,
                      load=app.store.get_many, scan_secs=3600, status_secs=0.05)
    with os.fdopen(read) as stdin:
        assert loop.run(stdin, out) == 0
    assert _has_vector(app, told.id) and _has_vector(app, found.id)
    assert not _has_vector(app, gone.id)
    last = json.loads(out.getvalue().splitlines()[-1])
    assert last["embedded"] == 2 and last["pending"] == 0 and last["scans"] >= 1 and last["embedding"] is True


def test_background_process_feeds_a_real_worker_and_restarts_it(app: App) -> None:
    first, = _store_without_vectors(app, "the staging database lives on port 5433")
    child = ServeChild(WORKER_ARGV, restart_delays=(0.2,)).start()
    try:
        child.submit([first])
        assert _wait(lambda: _has_vector(app, first.id)), child.status()
        assert _wait(lambda: (child.status()["worker"] or {}).get("embedded", 0) >= 1, 10), child.status()
        status = child.status()
        assert status["running"] is True and status["starts"] == 1
        if hasattr(os, "SCHED_IDLE"):  # `--nice 0`: only the scheduling class is lowered
            assert status["worker"]["priority"] == "SCHED_IDLE"
        os.kill(status["pid"], signal.SIGKILL)
        # Stored while the worker is down and never submitted: the restarted worker's scan finds it.
        missed, = _store_without_vectors(app, "the cache is flushed at midnight")
        assert _wait(lambda: child.status()["starts"] == 2 and child.status()["running"], 30), child.status()
        assert _wait(lambda: _has_vector(app, missed.id)), child.status()
        assert any("exit code" in e for e in child.status()["exits"])
        pid = child.status()["pid"]
    finally:
        child.stop(timeout=20)
    assert child.status()["running"] is False
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def test_background_settings_are_checked(nexus_home: Path) -> None:
    assert load_settings({"NEXUS_HOME": str(nexus_home)}).serve_background == "process"
    with pytest.raises(ConfigError, match="NEXUS_SERVE_BACKGROUND"):
        load_settings({"NEXUS_HOME": str(nexus_home), "NEXUS_SERVE_BACKGROUND": "fork"})
    with pytest.raises(ConfigError, match="NEXUS_EMBEDDING_THREADS"):
        load_settings({"NEXUS_HOME": str(nexus_home), "NEXUS_EMBEDDING_THREADS": "-1"})
    one = build_app(load_settings({"NEXUS_HOME": str(nexus_home), "NEXUS_EMBEDDING_THREADS": "1"}))
    try:
        one.embeddings.embedder.embed(["load the model"])  # type: ignore[union-attr]
        inner = one.embeddings.embedder._inner  # type: ignore[union-attr]
        assert inner.threads == 1 and inner.slots == max(1, os.cpu_count() or 1)
    finally:
        one.close()


def test_server_load_waits_while_a_real_process_is_busy_and_not_when_it_is_idle() -> None:
    busy = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    idle = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        time.sleep(0.3)
        hot = ServerLoad(busy.pid, max_wait=0.6)
        # busy by the gate's own measure (a saturated 2-core machine gives a busy loop ~0.25 of a core)
        assert (hot.share() or 0) > hot.threshold
        started = time.monotonic()
        hot.wait_quiet()
        assert time.monotonic() - started >= 0.55 and hot.waited >= 0.55  # waited its bound, then went on
        cold = ServerLoad(idle.pid, max_wait=5)
        started = time.monotonic()
        cold.wait_quiet()
        assert time.monotonic() - started < 1.0
    finally:
        busy.kill()
        idle.kill()
        busy.wait()
        idle.wait()
    gone = ServerLoad(busy.pid, max_wait=5)  # the server exited: never wait on it
    assert gone.share() is None
    started = time.monotonic()
    gone.wait_quiet()
    assert time.monotonic() - started < 0.5


def test_worker_loop_checks_the_gate_before_every_unit(app: App) -> None:
    memories = _store_without_vectors(app, *(f"note number {i} about the build cache" for i in range(10)))
    gates: list[int] = []
    loop = ServeChildLoop(index=app.embeddings.index_safely, missing=None, load=app.store.get_many,
                      before_unit=lambda: gates.append(len(gates)), batch=4)
    loop.feed(index_line([m.id for m in memories]))
    while loop.pending:
        loop.embed_some()
    assert len(gates) == 3 and loop.batches == 3 and loop.embedded == 10  # units of 4, 4 and 2
    assert all(_has_vector(app, m.id) for m in memories)


PRIORITY_PROBE = r"""
import os, threading
from nexus_memory.background.throttle import lower_priority
print(lower_priority(int(os.environ["NICE"]), idle_class=os.environ["IDLE"] == "1"))
seen = []
t = threading.Thread(target=lambda: seen.append((os.sched_getscheduler(0) == os.SCHED_IDLE, os.nice(0))))
t.start(); t.join()
print(seen[0][0], seen[0][1])
"""


@pytest.mark.skipif(not hasattr(os, "SCHED_IDLE"), reason="SCHED_IDLE is Linux-only")
@pytest.mark.parametrize(("nice", "idle", "said", "policy"), [
    ("7", "1", "nice +7, SCHED_IDLE", "True"),
    ("0", "1", "SCHED_IDLE", "True"),
    ("3", "0", "nice +3", "False"),
    ("0", "0", "unchanged", "False"),
])
def test_lower_priority_reaches_threads_started_afterwards(nice: str, idle: str, said: str, policy: str) -> None:
    base = os.nice(0)
    out = subprocess.run([sys.executable, "-c", PRIORITY_PROBE], env={**os.environ, "NICE": nice, "IDLE": idle},
                         capture_output=True, text=True, timeout=60, check=True).stdout.split("\n")
    assert out[0] == said
    assert out[1] == f"{policy} {min(19, base + int(nice))}"


def test_tail_scans_find_memories_nobody_sent_and_do_not_retry_failures(app: App) -> None:
    first, = _store_without_vectors(app, "the release train leaves on Thursdays")
    attempts: list[int] = []
    broken: set[int] = set()

    def index(memories: list[Memory]) -> None:
        attempts.extend(m.id for m in memories)
        app.embeddings.index_safely([m for m in memories if m.id not in broken])

    loop = ServeChildLoop(index=index, missing=app.embeddings.missing_ids, load=app.store.get_many,
                      newest=app.embeddings.newest_id, scan_secs=3600, tail_secs=0)
    loop.scan()
    assert loop.pending == [first.id]
    loop.embed_some()
    assert _has_vector(app, first.id) and loop.pending == []
    # Written by another process (a hook, or the worker's own cognition): nobody sends its id.
    second, third = _store_without_vectors(app, "a reflection written by the cognition worker",
                                           "a note that will not embed")
    broken.add(third.id)
    loop.tail_scan()
    assert loop.pending == [second.id, third.id]
    loop.embed_some()
    assert _has_vector(app, second.id) and not _has_vector(app, third.id)
    for _ in range(3):  # the failure is the full scan's to retry, not every tail scan's
        loop.tail_scan()
        assert loop.pending == []
    assert attempts.count(third.id) == 1 and loop.tail_scans == 4
    loop.scan()
    assert loop.pending == [third.id]
