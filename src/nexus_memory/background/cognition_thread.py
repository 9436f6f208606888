"""The cognition thread (`nexus worker`, or `nexus serve` on threads): drains the queue, dreams on an adaptive schedule.

A daemon thread with its own store connection (the SQLite store keeps one per
thread). Every `poll_secs` it drains queued jobs (bounded, like a hook); every
adaptive interval (60-1800 s: contradiction-heavy namespaces dream sooner, quiet
ones later) it runs the dream cycle for namespaces with new memories; when the
activity monitor allows, the deep dream. Errors are counted and kept (last 10),
never raised: a failing dream must not take the server down.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from nexus_memory.background.throttle import lower_thread_priority
from nexus_memory.cognition.dream import adaptive_dream_interval

if TYPE_CHECKING:
    from nexus_memory.cognition.jobs import DrainResult
    from nexus_memory.config import CognitionSettings, CognitiveSystemSettings
    from nexus_memory.storage.base import Store


class _DeepDream(Protocol):
    @property
    def ran(self) -> bool: ...


class Dreamer(Protocol):
    """What the thread drives: CognitionService (named by its shape: services sit above this package)."""

    @property
    def store(self) -> Store: ...

    @property
    def settings(self) -> CognitionSettings: ...

    @property
    def system(self) -> CognitiveSystemSettings: ...

    def drain(self, owner: str, *, timeout_secs: float | None = None) -> DrainResult: ...

    def dream_cycle(self, agent: str, *, owner: str | None = None, timeout_secs: float | None = None) -> object: ...

    def deep_dream(self) -> _DeepDream: ...


@dataclass
class CognitionThreadStatus:
    running: bool = False
    drains: int = 0
    jobs_processed: int = 0
    dreams: int = 0
    deep_dreams: int = 0
    errors: list[str] = field(default_factory=list)
    last_drain_at: float | None = None
    next_dream_in_secs: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"running": self.running, "drains": self.drains, "jobs_processed": self.jobs_processed,
                "dreams": self.dreams, "deep_dreams": self.deep_dreams, "errors": self.errors[-10:],
                "next_dream_in_secs": self.next_dream_in_secs}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CognitionThreadStatus:
        """Back from `to_dict()`, as the `nexus worker` child reports it on its status line."""
        def count(key: str) -> int:
            value = data.get(key)
            return int(value) if isinstance(value, int | float) else 0

        nxt = data.get("next_dream_in_secs")
        return cls(running=bool(data.get("running")), drains=count("drains"), jobs_processed=count("jobs_processed"),
                   dreams=count("dreams"), deep_dreams=count("deep_dreams"),
                   errors=[str(e) for e in data.get("errors") or []],
                   next_dream_in_secs=float(nxt) if isinstance(nxt, int | float) else None)


class CognitionThread:
    def __init__(self, service: Dreamer, *, poll_secs: float = 15.0, base_dream_secs: float = 600.0,
                 sleep: Callable[[float], bool] | None = None,
                 before_tick: Callable[[], None] | None = None) -> None:
        self.service = service
        self.poll_secs = poll_secs
        self.base_dream_secs = base_dream_secs
        self.status = CognitionThreadStatus()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._sleep = sleep or self._stop.wait
        #: Called before each tick (in `nexus worker`: wait for a quiet moment of the server).
        self._before_tick = before_tick
        self._last_counts: dict[int, int] = {}

    def start(self) -> None:
        if self._thread is not None:
            return
        self.status.running = True
        self._thread = threading.Thread(target=self._run, name="nexus-cognition-worker", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
        self.status.running = False

    def _error(self, where: str, exc: BaseException) -> None:
        self.status.errors.append(f"{where}: {type(exc).__name__}: {exc}")
        del self.status.errors[:-10]

    def tick(self, now: float, next_dream: float) -> float:
        """One iteration: drain; dream when due. Returns when the next dream is due."""
        svc = self.service
        try:
            result = svc.drain("serve-worker", timeout_secs=svc.settings.session_end_dream_timeout_secs)
            self.status.drains += 1
            self.status.jobs_processed += result.processed
        except Exception as exc:
            self._error("drain", exc)
        if now < next_dream:
            return next_dream
        interval = self.base_dream_secs
        try:
            interval = self._dream_changed_namespaces()
        except Exception as exc:
            self._error("dream", exc)
        try:
            if svc.deep_dream().ran:
                self.status.deep_dreams += 1
        except Exception as exc:
            self._error("deep dream", exc)
        return now + interval

    def _dream_changed_namespaces(self) -> float:
        from nexus_memory.domain.models import MemoryFilter

        svc = self.service
        cfg = svc.settings
        shortest = float(cfg.adaptive_dream_max_interval_secs)
        threshold = max(1, svc.system.dream_memory_threshold)
        for ns in svc.store.list_namespaces():
            count = svc.store.count(MemoryFilter(agents=(ns.name,)))
            seen = self._last_counts.get(ns.id)
            # Dream a namespace the first time, then once `dream_memory_threshold` (20) new memories arrived.
            if seen is not None and count - seen < threshold:
                continue
            self._last_counts[ns.id] = count
            svc.dream_cycle(ns.name, owner="serve-worker", timeout_secs=cfg.session_end_dream_timeout_secs)
            self.status.dreams += 1
            recent = svc.store.list_memories(MemoryFilter(agents=(ns.name,)), limit=100)
            if cfg.adaptive_dream_enabled:
                shortest = min(shortest, adaptive_dream_interval(
                    recent, self.base_dream_secs, cfg.adaptive_dream_min_interval_secs,
                    cfg.adaptive_dream_max_interval_secs))
        return shortest if cfg.adaptive_dream_enabled else self.base_dream_secs

    def _run(self) -> None:
        lower_thread_priority()
        next_dream = time.monotonic()
        while not self._stop.is_set():
            if self._before_tick is not None:
                self._before_tick()
            next_dream = self.tick(time.monotonic(), next_dream)
            self.status.last_drain_at = time.time()
            self.status.next_dream_in_secs = round(max(0.0, next_dream - time.monotonic()), 1)
            if self._sleep(self.poll_secs):
                break
