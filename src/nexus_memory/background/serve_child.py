"""`nexus serve`'s background work in a process of its own: store-time embedding and cognition.

Why a process and not a thread: a background thread shares the server's GIL. Reflection and
dream stages are pure Python, so while they run every request thread waits up to the switch
interval (5 ms) for each turn, again and again, and a lowered thread priority does nothing for the
GIL. Store-time embedding on a thread also shared the server's one ONNX session, so a query waited
for the background chunk in front of it. Measured with `make bench-serve` (see BENCHMARKS.md): the
same 50 clients, the same database, the worker as a thread against the worker as a process.

The protocol is lines on two pipes, so the child is just `nexus worker` reading standard input:

- server -> worker (stdin): ``index <id> <id> ...`` (embed these memories, new or changed), and
  ``scan`` (look for every memory without a vector). End of input means stop: the worker embeds
  what it has queued (bounded), stops its cognition thread and exits.
- worker -> server (stdout): one JSON object per line, the worker's status.

Nothing is lost if the worker dies or a pipe write fails: it is restarted with a back-off, and
every start (and every `scan_secs`) begins with a scan for memories without vectors; BM25 finds a
memory the moment it is committed, the vector follows.
"""

from __future__ import annotations

import json
import logging
import os
import queue
import select
import subprocess
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import IO, Any

from nexus_memory.background.index_thread import coalesced
from nexus_memory.background.throttle import normal_class
from nexus_memory.domain.models import Memory

log = logging.getLogger(__name__)

#: Seconds between status lines from the worker (and at most between two scans of its input).
STATUS_SECS = 2.0
#: Restart back-off of a worker that exited while the server runs: doubles up to the last value.
RESTART_DELAYS = (1.0, 2.0, 5.0, 15.0, 60.0)
#: Ids per ``index`` line (a burst of stores becomes a few lines, not thousands).
IDS_PER_LINE = 256


def index_line(ids: Sequence[int]) -> str:
    return "index " + " ".join(str(int(i)) for i in ids) + "\n"


def parse_line(line: str) -> tuple[str, list[int]] | None:
    """(command, ids) or None for a line that is not part of the protocol (ignored, never fatal)."""
    words = line.split()
    if not words:
        return None
    if words[0] == "scan" and len(words) == 1:
        return "scan", []
    if words[0] == "index":
        try:
            ids = [int(w) for w in words[1:]]
        except ValueError:
            return None
        return ("index", [i for i in ids if i > 0]) if ids else None
    return None


class ServeChild:
    """Server side: starts `nexus worker`, feeds it memory ids, keeps its last status, restarts it.

    `submit` is MemoryService's indexer hook; it only queues (a request never waits on a pipe)."""

    def __init__(self, argv: Sequence[str], *, env: Mapping[str, str] | None = None,
                 restart_delays: Sequence[float] = RESTART_DELAYS) -> None:
        self.argv = list(argv)
        self.env = dict(os.environ if env is None else env)
        self.restart_delays = tuple(restart_delays) or (1.0,)
        self.starts = 0
        self.exits: list[str] = []
        self._status: dict[str, Any] | None = None
        self._outbox: queue.SimpleQueue[list[int] | None] = queue.SimpleQueue()
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._proc: subprocess.Popen[str] | None = None
        self._threads: list[threading.Thread] = []

    # server-facing -------------------------------------------------------------------
    def start(self) -> ServeChild:
        if not self._threads:
            self._spawn()
            for target, name in ((self._supervise, "nexus-background-supervisor"),
                                 (self._write, "nexus-background-writer")):
                thread = threading.Thread(target=target, name=name, daemon=True)
                thread.start()
                self._threads.append(thread)
        return self

    def submit(self, memories: Sequence[Memory]) -> None:
        ids = [m.id for m in memories if m.is_active and not m.is_raw_activity]
        if ids:
            self._outbox.put(ids)

    def status(self) -> dict[str, Any]:
        with self._lock:
            proc = self._proc
            running = proc is not None and proc.poll() is None
            return {"running": running, "pid": proc.pid if running and proc else None,
                    "starts": self.starts, "exits": self.exits[-5:], "worker": self._status}

    def cognition_status(self) -> dict[str, Any] | None:
        """The worker's cognition part, shaped like the in-process worker's status (None if off)."""
        status = self._status or {}
        cognition = status.get("cognition")
        return dict(cognition) if isinstance(cognition, dict) else None

    def stop(self, timeout: float = 10.0) -> None:
        """Close the worker's input (it finishes its queue, bounded) and wait; kill past `timeout`."""
        self._stopping.set()
        self._outbox.put(None)
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.1, deadline - time.monotonic()))
        with self._lock:
            proc = self._proc
        if proc is not None and proc.poll() is None:
            normal_class(proc.pid)  # an idle-class process may wait long for a core to die on
            proc.kill()
            proc.wait(5)

    # threads -------------------------------------------------------------------------
    def _spawn(self) -> None:
        # Its own session: Ctrl-C on the server's terminal stops the server, which then closes the
        # worker's input; the worker is never interrupted half-way through a batch.
        proc = subprocess.Popen(self.argv, env=self.env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                text=True, bufsize=1, close_fds=True, start_new_session=True)
        with self._lock:
            self._proc = proc
            self.starts += 1

    def _supervise(self) -> None:
        """Read status lines until the worker's output ends; restart it unless the server stops."""
        failures = 0
        while True:
            with self._lock:
                proc = self._proc
            assert proc is not None and proc.stdout is not None
            started = time.monotonic()
            for line in proc.stdout:
                try:
                    status = json.loads(line)
                except ValueError:
                    continue
                if isinstance(status, dict):
                    self._status = status
            code = proc.wait()
            if self._stopping.is_set():
                return
            self.exits.append(f"exit code {code} after {time.monotonic() - started:.0f} s")
            log.warning("the background worker exited with code %s; restarting it", code)
            failures = 0 if time.monotonic() - started > 60 else failures + 1
            if self._stopping.wait(self.restart_delays[min(failures, len(self.restart_delays) - 1)]):
                return
            try:
                self._spawn()
            except OSError as exc:
                self.exits.append(f"could not start: {exc}")
                failures += 1
                if self._stopping.wait(self.restart_delays[-1]):
                    return
                continue

    def _write(self) -> None:
        """Move queued ids to the worker's stdin; on a broken pipe the restarted worker scans instead."""
        for ids in coalesced(self._outbox, IDS_PER_LINE):  # a burst of stores becomes one line
            self._send(ids)
        self._close_input()

    def _send(self, ids: list[int]) -> None:
        with self._lock:
            proc = self._proc
        if proc is None or proc.stdin is None:
            return
        try:
            for start in range(0, len(ids), IDS_PER_LINE):
                proc.stdin.write(index_line(ids[start:start + IDS_PER_LINE]))
            proc.stdin.flush()
        except (BrokenPipeError, OSError, ValueError):
            pass  # the worker is gone; its next start scans for whatever lacks a vector

    def _close_input(self) -> None:
        with self._lock:
            proc = self._proc
        if proc is not None and proc.stdin is not None:
            try:
                proc.stdin.close()
            except OSError:
                pass


class ServeChildLoop:
    """Worker side (`nexus worker`): reads the protocol, embeds in batches, reports its status.

    `index(memories)` embeds and never raises (EmbeddingService.index_safely); `missing(after_id)`
    yields the ids of memories without a vector (EmbeddingService.missing_ids); `newest()` is the
    newest memory's id; `load(ids)` reads memories; `extra()` adds to each status line (the
    cognition thread's status, embedding errors).

    Two scans find what nobody sent: a full one at start and every `scan_secs`, and every
    `tail_secs` a tail scan of the memories stored since the last one (by this process's own
    cognition worker, by hooks and CLI commands in other processes). The tail scan starts above
    the newest id seen at the previous one, so it reads only the new rows; a memory that failed to
    embed is retried by the full scan, not every few seconds."""

    def __init__(self, *, index: Callable[[Sequence[Memory]], object] | None,
                 missing: Callable[[int], Iterable[int]] | None,
                 load: Callable[[Sequence[int]], list[Memory]],
                 newest: Callable[[], int] | None = None,
                 extra: Callable[[], dict[str, Any]] = dict,
                 before_unit: Callable[[], None] | None = None,
                 batch: int = 4, scan_secs: float = 600.0, tail_secs: float = 5.0,
                 status_secs: float = STATUS_SECS, stop_secs: float = 10.0) -> None:
        self.index, self.missing, self.load, self.newest = index, missing, load, newest
        self.tail_secs = tail_secs
        self._tail_mark: int | None = None
        self._tail_due = 0.0
        self.tail_scans = 0
        self.extra = extra
        self.before_unit = before_unit
        self.batch = max(1, batch)
        self.scan_secs, self.status_secs, self.stop_secs = scan_secs, status_secs, stop_secs
        self.pending: list[int] = []
        self.embedded = 0
        self.batches = 0
        self.scans = 0
        self.started = time.time()
        self._scan_due = 0.0  # the first pass scans

    def run(self, stdin: IO[str] | None, stdout: IO[str]) -> int:
        """Until `stdin` ends (with no `stdin`: until the process is stopped), then drain, bounded."""
        fd = stdin.fileno() if stdin is not None else None
        last_status = 0.0
        buffered = ""
        while True:
            if self.index is not None and time.monotonic() >= self._scan_due:
                self.scan()
            elif self.index is not None and time.monotonic() >= self._tail_due:
                self.tail_scan()
            wait = 0.0 if self.pending else self.status_secs
            if fd is None:
                time.sleep(wait)
            elif select.select([fd], [], [], wait)[0]:
                chunk = os.read(fd, 65536).decode("utf-8", "replace")
                if not chunk:
                    break
                *lines, buffered = (buffered + chunk).split("\n")
                for line in lines:
                    self.feed(line)
            if self.pending:
                self.embed_some()
            if time.monotonic() - last_status >= self.status_secs:
                self.report(stdout)
                last_status = time.monotonic()
        self.feed(buffered)
        deadline = time.monotonic() + self.stop_secs
        while self.pending and time.monotonic() < deadline:
            self.embed_some()
        self.report(stdout)
        return 0

    def feed(self, line: str) -> None:
        parsed = parse_line(line)
        if parsed is None:
            return
        command, ids = parsed
        if command == "scan":
            self._scan_due = 0.0
        elif self.index is not None:
            known = set(self.pending)
            self.pending.extend(i for i in ids if i not in known)

    def embed_some(self) -> None:
        """One batch of queued ids: load them (as they are now) and embed the live ones."""
        if self.index is None or not self.pending:
            return
        if self.before_unit is not None:
            self.before_unit()
        ids, self.pending = self.pending[:self.batch], self.pending[self.batch:]
        memories = [m for m in self.load(ids) if m.is_active]  # archived or deleted since: skip
        if memories:
            self.index(memories)
            self.embedded += len(memories)
            self.batches += 1

    def scan(self) -> None:
        """Queue every memory that lacks a vector of the configured model."""
        self._scan_due = time.monotonic() + self.scan_secs
        if self.missing is None:
            return
        self.scans += 1
        mark = self.newest() if self.newest is not None else None  # read first: later ids are the tail's
        self._queue(self.missing(0))
        self._tail_mark, self._tail_due = mark, time.monotonic() + self.tail_secs

    def tail_scan(self) -> None:
        """Queue the memories stored since the last scan that lack a vector."""
        self._tail_due = time.monotonic() + self.tail_secs
        if self.missing is None or self.newest is None or self._tail_mark is None:
            return
        self.tail_scans += 1
        mark = self.newest()
        self._queue(self.missing(self._tail_mark))
        self._tail_mark = max(mark, self._tail_mark)

    def _queue(self, ids: Iterable[int]) -> None:
        known = set(self.pending)
        self.pending.extend(i for i in ids if i not in known)

    def snapshot(self) -> dict[str, Any]:
        return {"pid": os.getpid(), "embedding": self.index is not None, "embedded": self.embedded,
                "batches": self.batches, "pending": len(self.pending), "scans": self.scans,
                "tail_scans": self.tail_scans,
                "uptime_secs": round(time.time() - self.started, 1), "cognition": None, **self.extra()}

    def report(self, stdout: IO[str]) -> None:
        try:
            stdout.write(json.dumps(self.snapshot()) + "\n")
            stdout.flush()
        except (BrokenPipeError, OSError, ValueError):
            pass
