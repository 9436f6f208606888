"""RuntimeController: session lifecycle on top of state files and markers (seed + reference 5.1).

The clock is injectable so idle expiry is tested without sleeping. Work that
later layers attach to start and shutdown (draining jobs, the bounded dream)
comes in through `on_start` / `on_shutdown` callbacks; a failure there is
reported, never allowed to leave a stale state file behind.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from nexus_memory.domain.agents import canonicalize_agent_type
from nexus_memory.domain.enums import RuntimeMode, RuntimeShutdownReason
from nexus_memory.domain.models import Memory
from nexus_memory.domain.sessions import derive_session_key
from nexus_memory.domain.timeutil import Clock, utcnow
from nexus_memory.runtime.markers import RuntimeMarker, marker_memory
from nexus_memory.runtime.state import (
    CorruptStateFile,
    RuntimeState,
    list_state_files,
    read_runtime_state,
    remove_runtime_state,
    state_file_path,
    write_runtime_state,
)
from nexus_memory.storage.base import MemoryStore

StartHook = Callable[[str, str, str | None], None]
ShutdownHook = Callable[[str, str, str | None, RuntimeShutdownReason], None]


@dataclass(slots=True)
class StartResult:
    state: RuntimeState
    path: Path
    created: bool
    restarted: bool
    marker: Memory | None
    warnings: list[str] = field(default_factory=list)


@dataclass(slots=True)
class ShutdownResult:
    agent_type: str
    session_key: str
    reason: RuntimeShutdownReason
    marker: Memory | None
    state_removed: bool
    warnings: list[str] = field(default_factory=list)


@dataclass(slots=True)
class SessionStatus:
    state: RuntimeState
    path: Path
    idle_secs: float
    expired: bool


class RuntimeController:
    def __init__(
        self,
        store: MemoryStore,
        state_root: Path,
        *,
        idle_timeout_secs: int = 900,
        enabled: bool = True,
        clock: Clock = utcnow,
        on_start: StartHook | None = None,
        on_shutdown: ShutdownHook | None = None,
        project_name: Callable[[str | None], str | None] | None = None,
    ) -> None:
        self.store = store
        self.state_root = state_root
        self.idle_timeout_secs = idle_timeout_secs
        self.enabled = enabled
        self.clock = clock
        self.on_start = on_start
        self.on_shutdown = on_shutdown
        self._project_name = project_name

    # helpers ------------------------------------------------------------------
    def _marker(self, agent: str, session_key: str | None, cwd: str | None, event: str, detail: str) -> Memory:
        marker = RuntimeMarker(
            agent_type=agent, session_key=session_key, cwd=cwd, event=event, detail=detail,
            agent_namespace=agent,
            project_name=self._project_name(cwd) if self._project_name else None,
        )
        return self.store.store(marker_memory(marker, self.clock())).memory

    def _read(self, path: Path, warnings: list[str]) -> RuntimeState | None:
        try:
            return read_runtime_state(path)
        except CorruptStateFile as exc:
            warnings.append(str(exc))
            return None

    def _expired(self, state: RuntimeState, now: datetime) -> bool:
        return (
            state.mode is RuntimeMode.SESSION_SCOPED
            and (now - state.updated_at).total_seconds() > self.idle_timeout_secs
        )

    # lifecycle ----------------------------------------------------------------
    def ensure_started(
        self,
        agent_type: str,
        session_key: str | None = None,
        cwd: str | None = None,
        mode: RuntimeMode = RuntimeMode.SESSION_SCOPED,
    ) -> StartResult:
        agent = canonicalize_agent_type(agent_type)
        key = derive_session_key(agent, session_key, cwd)
        path = state_file_path(self.state_root, agent, key)
        now = self.clock()
        warnings: list[str] = []
        previous = self._read(path, warnings)
        created = previous is None
        # Past the idle timeout the old session is over: start counting afresh.
        restarted = previous is not None and (now - previous.updated_at).total_seconds() > self.idle_timeout_secs
        started_at = now if created or restarted or previous is None else previous.started_at
        state = RuntimeState(agent_type=agent, session_key=key, mode=mode, started_at=started_at, updated_at=now)
        if not self.enabled:
            return StartResult(state, path, created, restarted, None, warnings)
        write_runtime_state(path, state)
        marker = None
        if created or restarted:
            detail = "restarted after idle timeout" if restarted else f"mode={mode.value}"
            marker = self._marker(agent, session_key, cwd, "runtime_session_start", detail)
        if self.on_start is not None:
            try:
                self.on_start(agent, key, cwd)
            except Exception as exc:  # the session must start even if background work fails
                warnings.append(f"start work failed: {type(exc).__name__}: {exc}")
        return StartResult(state, path, created, restarted, marker, warnings)

    def record_event(
        self, agent_type: str, session_key: str | None, cwd: str | None, kind: str, detail: str = ""
    ) -> Memory:
        """A lifecycle event inside a session (compact, checkpoint, error, ...)."""
        agent = canonicalize_agent_type(agent_type)
        event = "session_" + kind.strip().lower().replace("-", "_").replace(" ", "_")
        return self._marker(agent, session_key, cwd, event, detail or kind)

    def flush_and_shutdown(
        self,
        agent_type: str,
        session_key: str | None = None,
        cwd: str | None = None,
        reason: RuntimeShutdownReason = RuntimeShutdownReason.SESSION_ENDED,
    ) -> ShutdownResult:
        """Marker first, then background work, then the state file goes."""
        agent = canonicalize_agent_type(agent_type)
        key = derive_session_key(agent, session_key, cwd)
        path = state_file_path(self.state_root, agent, key)
        warnings: list[str] = []
        marker = self._marker(agent, session_key, cwd, "runtime_session_end", reason.label)
        if self.on_shutdown is not None:
            try:
                self.on_shutdown(agent, key, cwd, reason)
            except Exception as exc:
                warnings.append(f"shutdown work failed: {type(exc).__name__}: {exc}")
        removed = remove_runtime_state(path)
        return ShutdownResult(agent, key, reason, marker, removed, warnings)

    def sessions(self, warnings: list[str] | None = None) -> list[SessionStatus]:
        """Live sessions; a corrupt state file is moved aside and reported in `warnings`."""
        now = self.clock()
        out: list[SessionStatus] = []
        sink = warnings if warnings is not None else []
        for path in list_state_files(self.state_root):
            state = self._read(path, sink)
            if state is None:
                continue
            idle = (now - state.updated_at).total_seconds()
            out.append(SessionStatus(state, path, idle, self._expired(state, now)))
        return out

    def sweep_idle(self, warnings: list[str] | None = None) -> list[ShutdownResult]:
        """Shut down every session-scoped session idle past the timeout; persistent ones never expire."""
        results: list[ShutdownResult] = []
        for status in self.sessions(warnings):
            if status.expired:
                st = status.state
                results.append(
                    self.flush_and_shutdown(st.agent_type, st.session_key, None, RuntimeShutdownReason.IDLE_TIMEOUT)
                )
        return results
