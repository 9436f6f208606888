"""SessionService: the runtime controller plus events for live surfaces."""

from __future__ import annotations

from nexus_memory.domain.enums import RuntimeMode, RuntimeShutdownReason
from nexus_memory.domain.models import Memory
from nexus_memory.runtime.controller import RuntimeController, SessionStatus, ShutdownResult, StartResult
from nexus_memory.services.events import SESSION_ENDED, SESSION_STARTED, EventBus


class SessionService:
    def __init__(self, controller: RuntimeController, events: EventBus) -> None:
        self.controller = controller
        self.events = events

    def start(self, agent: str, session_key: str | None = None, cwd: str | None = None,
              mode: RuntimeMode = RuntimeMode.SESSION_SCOPED) -> StartResult:
        result = self.controller.ensure_started(agent, session_key, cwd, mode)
        if result.created or result.restarted:
            self.events.publish(SESSION_STARTED, {
                "agent_type": result.state.agent_type, "session_key": result.state.session_key,
                "mode": result.state.mode.value, "cwd": cwd,
            })
        return result

    def event(self, agent: str, session_key: str | None, cwd: str | None, kind: str, detail: str = "") -> Memory:
        return self.controller.record_event(agent, session_key, cwd, kind, detail)

    def end(self, agent: str, session_key: str | None = None, cwd: str | None = None,
            reason: RuntimeShutdownReason = RuntimeShutdownReason.SESSION_ENDED) -> ShutdownResult:
        result = self.controller.flush_and_shutdown(agent, session_key, cwd, reason)
        self._ended(result)
        return result

    def _ended(self, result: ShutdownResult) -> None:
        self.events.publish(SESSION_ENDED, {
            "agent_type": result.agent_type, "session_key": result.session_key, "reason": result.reason.label,
        })

    def status(self, warnings: list[str] | None = None) -> list[SessionStatus]:
        return self.controller.sessions(warnings)

    def sweep(self, warnings: list[str] | None = None) -> list[ShutdownResult]:
        results = self.controller.sweep_idle(warnings)
        for result in results:
            self._ended(result)
        return results
