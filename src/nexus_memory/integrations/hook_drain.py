"""What the hook's spool drain does with the records: store events, end sessions, drain jobs.

A hook never waits for the database on a tool call: it appends the (redacted) event to the spool
and, at the end of a turn, makes sure a drain runs (`hand_off`). The drain process (`nexus hook
--worker`, one at a time: background/spool_drain.py) stores the events (hook_store.process), ends
sessions (runtime shutdown with its bounded dream) and drains the cognition jobs a session start
asked for. The hook imports this module for `hand_off`, which only checks the lock and spawns:
the drain loop (background/spool_drain.py) is imported by the drain process alone, so the hook path
loads the same modules as before background work had a package.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nexus_memory.integrations.events import HookEvent
from nexus_memory.integrations.paths import Paths
from nexus_memory.integrations.spool import log_error

if TYPE_CHECKING:
    from nexus_memory.app import App
    from nexus_memory.config import Settings


def hand_off(settings: Settings, *, sync: bool = False) -> None:
    """Make sure a drain empties the spools: inline with --sync, else a detached one if none runs."""
    if sync:
        run_drain(settings)
    elif not drain_running(settings):
        spawn_drain(settings)


def spawn_drain(settings: Settings) -> None:
    """A detached `nexus hook --worker`: survives the tool killing the hook, writes nothing to it."""
    import subprocess

    cmd = [sys.executable, "-m", "nexus_memory.cli.main", "hook", "--worker"]
    if not settings.database_url:
        cmd += ["--db", str(settings.database_path)]
    try:
        subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                         start_new_session=True, close_fds=True)
    except OSError as exc:
        log_error(settings.paths.log_dir, f"cannot start the hook worker: {exc}")


def _lock_path(settings: Settings) -> Path:
    """The drain's lock (the name predates the background package; older drains use it too)."""
    lock_path = settings.paths.spool_dir / "worker.lock"
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    return lock_path


def drain_running(settings: Settings) -> bool:
    """Whether a drain process holds the lock now."""
    import fcntl

    fd = os.open(_lock_path(settings), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    finally:
        os.close(fd)


def run_drain(settings: Settings) -> int:
    """Drain both spools with the full app (cognition on), one drain process at a time."""
    from nexus_memory.background.spool_drain import drain_exclusively

    paths = Paths(settings)
    return drain_exclusively(_lock_path(settings), lambda: _drain_all(settings, paths),
                             lambda: bool(paths.events.pending() or paths.work.pending()))


def _drain_all(settings: Settings, paths: Paths) -> int:
    from nexus_memory.integrations.hook_store import store_records

    try:
        from nexus_memory.app import build_app

        app = build_app(settings, embeddings=False)
    except Exception as exc:
        log_error(paths.log_dir, f"database unavailable, {paths.events.count()} event(s) stay in the spool: "
                  f"{type(exc).__name__}: {exc}")
        return 0
    done = 0
    try:
        for _ in range(20):
            n = paths.events.drain(lambda recs: store_records(app, recs, paths), transient=transient)
            n += paths.work.drain(lambda recs: _do_work(app, recs, paths), transient=transient)
            done += n
            if not n:
                break
    except Exception as exc:
        log_error(paths.log_dir, f"hook worker: {type(exc).__name__}: {exc}")
    finally:
        app.close()
    return done


def transient(exc: BaseException) -> bool:
    """An error that says nothing about the record: the database is busy, broken or gone, a disk is
    full. The record waits in the spool. Anything else (invalid input, a bug the record's shape hits)
    sets the record aside instead of blocking every event behind it."""
    import sqlite3

    from nexus_memory.errors import StorageError

    return isinstance(exc, StorageError | OSError | sqlite3.Error | MemoryError)


def _do_work(app: App, records: list[dict[str, Any]], paths: Paths) -> None:
    from nexus_memory.integrations.hook_store import project, read_transcript, reset_injected, seen_for

    timeout = float(app.settings.cognition.session_end_dream_timeout_secs)
    for rec in records:
        event = HookEvent.from_dict(rec.get("event") or {})
        if rec.get("type") == "end":
            read_transcript(app, event, project(event.cwd or "/", paths.projects), paths)
            app.sessions.end(event.agent, event.session_id, event.cwd)
            reset_injected(paths, event)
            seen_for(app, event).forget()
            if event.transcript_path:
                from nexus_memory.integrations.transcripts import Watermarks

                Watermarks(paths.transcripts).forget(event.agent, event.session_id or event.transcript_path)
        elif rec.get("type") == "drain":
            app.cognition.drain(f"hook-{event.agent}", agent=event.agent, timeout_secs=timeout)
            sweep_anchors(app, event.cwd or "/", paths)


#: Memories whose code anchors the session-start sweep re-checks (newest first).
SWEEP_LIMIT = 400


def sweep_anchors(app: App, cwd: str, paths: Paths) -> None:
    """The background re-check of a project's code anchors (issue 16), at session start, in the worker."""
    from nexus_memory.integrations.hook_store import project

    proj = project(cwd, paths.projects)
    if proj.checkout is None:
        return
    from nexus_memory.project.scope import CodeScope
    from nexus_memory.services.anchors import verify

    try:
        verify(app.store, proj, CodeScope(proj, paths.projects), limit=SWEEP_LIMIT)
    except Exception as exc:  # the sweep is a refresh; recall re-checks what it offers anyway
        log_error(paths.log_dir, f"anchor sweep: {type(exc).__name__}: {exc}")
