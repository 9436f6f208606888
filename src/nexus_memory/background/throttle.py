"""How background work yields the cores to `nexus serve`'s requests.

- `lower_priority`: the `nexus worker` child raises its nice value and enters SCHED_IDLE before any
  thread starts (every thread inherits it);
- `lower_thread_priority`: a background thread inside the server raises its own nice value;
- `ServerLoad`: the child waits for a quiet moment of the server, measured by its CPU time in
  /proc, before each unit of work;
- `normal_class`: back to the normal class, so a child that is killed gets a core to die on.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable

_CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


class ServerLoad:
    """Waits for a quiet moment of another process (the server), measured by its CPU time.

    A lowered nice value decides who gets a core, not what a neighbour's model run does to the
    caches and memory bandwidth the requests need: on two cores a nice-19 embedding loop still
    added a third to the search p95. So the worker embeds in small units and, before each, waits
    while the server has used more than `threshold` of a core since the last look, for at most
    `max_wait` seconds (so the backlog always moves). Linux (`/proc/<pid>/stat`, 10 ms ticks, hence
    `step` of 0.1 s); elsewhere, and if the server is gone, it never waits."""

    def __init__(self, pid: int, *, threshold: float = 0.15, max_wait: float = 2.0, step: float = 0.1,
                 clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep) -> None:
        self.pid, self.threshold, self.max_wait, self.step = pid, threshold, max_wait, step
        self.clock, self.sleep = clock, sleep
        self.waited = 0.0
        self._last: tuple[float, int] | None = None

    def cpu_ns(self) -> int | None:
        """CPU time of all the server's threads (`utime + stime` in /proc/<pid>/stat; schedstat
        would count the main thread only)."""
        try:
            with open(f"/proc/{self.pid}/stat", "rb") as fh:
                fields = fh.read().rsplit(b")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) * 1_000_000_000 // _CLOCK_TICKS
        except (OSError, ValueError, IndexError):
            return None

    def share(self) -> float | None:
        """The server's CPU use (cores) since the last call, over at least `step` seconds."""
        if self._last is None or self.clock() - self._last[0] < self.step:
            first = self._sample()
            if first is None:
                return None
            self._last = self._last or first
            self.sleep(self.step)
        now = self._sample()
        if now is None:
            return None
        assert self._last is not None
        used = (now[1] - self._last[1]) / 1e9 / max(now[0] - self._last[0], 1e-6)
        self._last = now
        return used

    def _sample(self) -> tuple[float, int] | None:
        cpu = self.cpu_ns()
        return None if cpu is None else (self.clock(), cpu)

    def wait_quiet(self) -> None:
        start = self.clock()
        while self.clock() - start < self.max_wait:
            used = self.share()
            if used is None or used < self.threshold:
                break
        self.waited += self.clock() - start


def normal_class(pid: int) -> None:
    """Back to the normal scheduling class (best effort; allowed from SCHED_IDLE at the same nice value)."""
    if hasattr(os, "SCHED_OTHER"):
        try:
            os.sched_setscheduler(pid, os.SCHED_OTHER, os.sched_param(0))
        except OSError:
            pass


def lower_priority(niceness: int, *, idle_class: bool = True) -> str:
    """Yield the cores to the server, best effort; returns what it set (for the status line).

    Raises this process's nice value and, on Linux, moves it to the SCHED_IDLE class: it then runs
    only on a core nothing else wants, and the scheduler takes that core back as soon as a request
    thread wakes. Nice 19 alone still gives a neighbour a slice of a busy core now and then: on
    2 cores, search p95 37-40 ms with SCHED_IDLE against 44-55 ms with nice 19 alone (same
    bench-serve mix, run back to back). Called before any thread starts, so every thread inherits it."""
    done = []
    if niceness > 0:
        try:
            os.nice(niceness)
            done.append(f"nice +{niceness}")
        except (AttributeError, OSError):
            pass
    if idle_class and hasattr(os, "SCHED_IDLE"):
        try:
            os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
            done.append("SCHED_IDLE")
        except OSError:
            pass
    return ", ".join(done) or "unchanged"


def lower_thread_priority(niceness: int = 10) -> None:
    """Background work yields the cores to requests: raise this thread's nice value (Linux
    schedules threads as tasks, so only the worker thread is affected). Best effort."""
    try:
        tid = threading.get_native_id()
        # Only ever lower: inside `nexus worker` the whole process already runs at a higher nice value.
        if os.getpriority(os.PRIO_PROCESS, tid) < niceness:
            os.setpriority(os.PRIO_PROCESS, tid, niceness)
    except (AttributeError, OSError):
        pass
