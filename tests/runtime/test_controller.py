"""The session runtime (seed runtime_state.rs + reference 5.1) with an injectable clock."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from nexus_memory.domain.enums import CognitiveLevel, MemoryCategory, RuntimeMode, RuntimeShutdownReason
from nexus_memory.domain.models import Memory, MemoryFilter
from nexus_memory.domain.sessions import derive_session_key
from nexus_memory.runtime.controller import RuntimeController
from nexus_memory.runtime.state import (
    RuntimeState,
    atomic_write_text,
    read_runtime_state,
    state_file_path,
    write_runtime_state,
)
from nexus_memory.storage.sqlite import SQLiteStore

T0 = datetime(2026, 5, 1, 9, 0, 0, tzinfo=UTC)
SEED_RUNTIME_FIELDS = {"event", "detail", "session_key", "derived_session_key", "cwd", "agent_type",
                       "agent_namespace", "captured_at"}


class FakeClock:
    def __init__(self, start: datetime = T0) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, secs: float) -> None:
        self.now += timedelta(seconds=secs)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SQLiteStore]:
    s = SQLiteStore(tmp_path / "runtime.db")
    yield s
    s.close()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / "state" / "runtime"


@pytest.fixture
def ctl(store: SQLiteStore, root: Path, clock: FakeClock) -> RuntimeController:
    return RuntimeController(store, root, idle_timeout_secs=900, clock=clock)


def markers(store: SQLiteStore) -> list[Memory]:
    # Markers are bookkeeping: written as the seed writes them, left out of default reads.
    assert store.list_memories(MemoryFilter(labels=("runtime",)), limit=100) == []
    return store.list_memories(MemoryFilter(labels=("runtime",), include_bookkeeping=True), limit=100, order="oldest")


def test_start_creates_state_and_seed_marker(ctl: RuntimeController, store: SQLiteStore, root: Path) -> None:
    r = ctl.ensure_started("claude", "sess-1", "/work/proj")
    assert r.created and not r.restarted and r.warnings == []
    assert r.path == root / "sessions" / "claude-code__sess-1.json"
    on_disk = json.loads(r.path.read_text())
    assert on_disk == {"agent_type": "claude-code", "session_key": "sess-1", "mode": "session_scoped",
                       "started_at": "2026-05-01T09:00:00.000000Z", "updated_at": "2026-05-01T09:00:00.000000Z"}
    m = r.marker
    assert m is not None
    assert m.content == "Runtime runtime session start for claude-code [session:sess-1] (mode=session_scoped)"
    assert m.category is MemoryCategory.SESSION
    assert m.labels == ("runtime", "session", "runtime_session_start")
    assert m.agent == "claude-code"
    assert m.session_key == "sess-1"
    assert m.created_at == T0
    runtime = m.metadata["runtime"]
    assert set(runtime) == SEED_RUNTIME_FIELDS
    assert runtime == {"event": "runtime_session_start", "detail": "mode=session_scoped", "session_key": "sess-1",
                       "derived_session_key": "sess-1", "cwd": "/work/proj", "agent_type": "claude-code",
                       "agent_namespace": "claude-code", "captured_at": "2026-05-01T09:00:00.000000Z"}
    cog = m.cognitive
    assert cog is not None
    assert cog.level is CognitiveLevel.EXPLICIT
    assert cog.confidence == 1.0
    assert cog.source_stage == "runtime_controller" and cog.generated_by == "runtime_controller"
    assert (cog.observer, cog.subject) == ("claude-code", "claude-code")
    assert cog.session_key == "sess-1" and cog.session_keys == ["sess-1"]
    assert (cog.times_reinforced, cog.times_contradicted) == (0, 0)
    assert cog.derived_at == T0


def test_start_derives_the_key_from_cwd(ctl: RuntimeController) -> None:
    r = ctl.ensure_started("gemini-cli", None, "/home/u//proj/")
    key = derive_session_key("gemini", None, "/home/u//proj/")
    assert key == "derived-gemini-_home_u_proj"
    assert r.state.session_key == key
    assert r.marker is not None
    assert r.marker.content == f"Runtime runtime session start for gemini [session:{key}] (mode=session_scoped)"
    assert r.marker.metadata["runtime"]["session_key"] is None
    assert r.marker.metadata["runtime"]["derived_session_key"] == key


def test_refresh_within_timeout_keeps_started_at(ctl: RuntimeController, clock: FakeClock,
                                                 store: SQLiteStore) -> None:
    ctl.ensure_started("codex", "k")
    clock.advance(900)  # exactly the timeout is still the same session
    r = ctl.ensure_started("codex", "k", mode=RuntimeMode.PERSISTENT)
    assert not r.created and not r.restarted and r.marker is None
    assert r.state.started_at == T0 and r.state.updated_at == T0 + timedelta(seconds=900)
    state = read_runtime_state(r.path)
    assert state is not None and state.updated_at == clock.now and state.mode is RuntimeMode.PERSISTENT
    assert len(markers(store)) == 1


def test_restart_after_idle_timeout(ctl: RuntimeController, clock: FakeClock, store: SQLiteStore) -> None:
    ctl.ensure_started("codex", "k")
    clock.advance(901)
    r = ctl.ensure_started("codex", "k")
    assert r.restarted and not r.created
    assert r.state.started_at == clock.now
    assert r.marker is not None
    assert r.marker.content == "Runtime runtime session start for codex [session:k] (restarted after idle timeout)"
    assert len(markers(store)) == 2


def test_disabled_runtime_is_a_no_op(store: SQLiteStore, root: Path, clock: FakeClock) -> None:
    ctl = RuntimeController(store, root, enabled=False, clock=clock)
    r = ctl.ensure_started("codex", "k")
    assert r.marker is None and not r.path.exists()
    assert markers(store) == []


def test_shutdown_writes_marker_then_removes_state(ctl: RuntimeController, clock: FakeClock,
                                                  store: SQLiteStore) -> None:
    start = ctl.ensure_started("claude-code", "s9", "/p")
    seen: list[tuple[bool, int]] = []

    def on_shutdown(agent: str, key: str, cwd: str | None, reason: RuntimeShutdownReason) -> None:
        seen.append((start.path.exists(), len(markers(store))))

    ctl.on_shutdown = on_shutdown
    clock.advance(60)
    r = ctl.flush_and_shutdown("claude", "s9", "/p", RuntimeShutdownReason.SESSION_ENDED)
    assert seen == [(True, 2)]  # the marker is stored before the work, the state goes after it
    assert r.state_removed and not start.path.exists()
    assert r.marker is not None
    assert r.marker.content == "Runtime runtime session end for claude-code [session:s9] (session-ended)"
    assert r.marker.labels == ("runtime", "session", "runtime_session_end")
    assert r.marker.metadata["runtime"]["detail"] == "session-ended"
    assert r.marker.created_at == clock.now
    again = ctl.flush_and_shutdown("claude", "s9", "/p", RuntimeShutdownReason.MANUAL)
    assert not again.state_removed
    assert again.marker is not None and again.marker.content.endswith("(manual)")


def test_failing_background_work_is_reported_not_fatal(ctl: RuntimeController) -> None:
    def boom(*args: object) -> None:
        raise RuntimeError("drain failed")

    ctl.on_start = boom
    ctl.on_shutdown = boom
    r = ctl.ensure_started("codex", "k")
    assert r.path.exists() and r.warnings == ["start work failed: RuntimeError: drain failed"]
    end = ctl.flush_and_shutdown("codex", "k")
    assert end.state_removed and not r.path.exists()
    assert end.warnings == ["shutdown work failed: RuntimeError: drain failed"]


def test_sweep_ends_idle_sessions_but_never_persistent(ctl: RuntimeController, clock: FakeClock,
                                                       store: SQLiteStore) -> None:
    stale = ctl.ensure_started("codex", "stale")
    forever = ctl.ensure_started("gemini", "forever", mode=RuntimeMode.PERSISTENT)
    clock.advance(10 * 86400)
    fresh = ctl.ensure_started("qwen", "fresh")
    clock.advance(901)
    kept = ctl.ensure_started("qwen", "kept")
    statuses = {s.state.session_key: s for s in ctl.sessions()}
    assert statuses["stale"].expired and statuses["fresh"].expired
    assert not statuses["forever"].expired and not statuses["kept"].expired
    assert statuses["forever"].idle_secs == 10 * 86400 + 901
    results = ctl.sweep_idle()
    assert sorted(r.session_key for r in results) == ["fresh", "stale"]
    assert all(r.reason is RuntimeShutdownReason.IDLE_TIMEOUT for r in results)
    assert not stale.path.exists() and not fresh.path.exists()
    assert forever.path.exists() and kept.path.exists()
    ends = [m for m in markers(store) if "runtime_session_end" in m.labels]
    assert sorted(m.content for m in ends) == [
        "Runtime runtime session end for codex [session:stale] (idle-timeout)",
        "Runtime runtime session end for qwen [session:fresh] (idle-timeout)",
    ]
    assert ctl.sweep_idle() == []


def test_corrupt_state_file_is_moved_aside_and_reported(ctl: RuntimeController, root: Path) -> None:
    path = state_file_path(root, "codex", "k")
    path.write_text("{not json")
    r = ctl.ensure_started("codex", "k")
    assert r.created
    assert len(r.warnings) == 1 and "unreadable" in r.warnings[0] and "moved to" in r.warnings[0]
    aside = [p for p in path.parent.iterdir() if ".corrupt-" in p.name]
    assert len(aside) == 1 and aside[0].read_text() == "{not json"
    assert str(aside[0]) in r.warnings[0]
    assert read_runtime_state(path) == r.state


def test_corrupt_state_reported_by_status(ctl: RuntimeController, root: Path) -> None:
    ctl.ensure_started("codex", "good")
    state_file_path(root, "codex", "bad").write_text('{"agent_type": "codex"}')
    warnings: list[str] = []
    live = ctl.sessions(warnings)
    assert [s.state.session_key for s in live] == ["good"]
    assert len(warnings) == 1 and "KeyError" in warnings[0]
    assert any(".corrupt-" in p.name for p in (root / "sessions").iterdir())


def test_state_file_names_are_sanitised(root: Path) -> None:
    path = state_file_path(root, "claude-code", "a/b c:d")
    assert path.name == "claude-code__a_b_c_d.json" and path.parent.is_dir()


def test_state_writes_are_atomic(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = state_file_path(root, "codex", "k")
    first = RuntimeState("codex", "k", RuntimeMode.SESSION_SCOPED, T0, T0)
    write_runtime_state(path, first)
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temp file left behind

    def failing_replace(src: str, dst: str) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", failing_replace)
    later = RuntimeState("codex", "k", RuntimeMode.PERSISTENT, T0, T0 + timedelta(hours=1))
    with pytest.raises(OSError, match="disk full"):
        write_runtime_state(path, later)
    assert read_runtime_state(path) == first  # the old file is whole
    assert [p.name for p in path.parent.iterdir()] == [path.name]


def test_atomic_write_keeps_requested_mode(tmp_path: Path) -> None:
    target = tmp_path / "f.json"
    atomic_write_text(target, "{}", mode=0o600)
    assert target.read_text() == "{}" and (target.stat().st_mode & 0o777) == 0o600


def test_record_event(ctl: RuntimeController) -> None:
    m = ctl.record_event("claude", "s1", "/p", "Compact", "context window full")
    assert m.content == "Runtime session compact for claude-code [session:s1] (context window full)"
    assert m.labels == ("runtime", "session", "session_compact")
    assert m.metadata["runtime"]["event"] == "session_compact"


def test_project_name_is_kept_beside_runtime(store: SQLiteStore, root: Path, clock: FakeClock) -> None:
    ctl = RuntimeController(store, root, clock=clock, project_name=lambda cwd: "demo-project")
    r = ctl.ensure_started("codex", "k", "/x")
    assert r.marker is not None
    assert set(r.marker.metadata["runtime"]) == SEED_RUNTIME_FIELDS
    assert r.marker.metadata["project"] == {"name": "demo-project"}
