"""A small synchronous event bus: services publish, surfaces and indexers listen.

Listeners must be quick and must not raise; an exception in one listener is
swallowed (and counted) so a broken WebSocket never fails a store.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

Listener = Callable[[str, dict[str, Any]], None]

MEMORY_CREATED = "memory.created"
MEMORY_UPDATED = "memory.updated"
MEMORY_DELETED = "memory.deleted"
SESSION_STARTED = "session.started"
SESSION_ENDED = "session.ended"


class EventBus:
    def __init__(self) -> None:
        self._listeners: list[Listener] = []
        self._lock = threading.Lock()
        self.listener_errors = 0

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        with self._lock:
            self._listeners.append(listener)

        def unsubscribe() -> None:
            with self._lock:
                if listener in self._listeners:
                    self._listeners.remove(listener)

        return unsubscribe

    def publish(self, event: str, payload: dict[str, Any]) -> None:
        with self._lock:
            listeners = list(self._listeners)
        for listener in listeners:
            try:
                listener(event, payload)
            except Exception:
                self.listener_errors += 1
