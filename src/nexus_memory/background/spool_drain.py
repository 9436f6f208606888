"""The detached spool drain: one process at a time drains what the hooks spooled.

A hook never waits for the database on a tool call: it appends the event to a spool and, at the
end of a turn, makes sure a drain runs. This module is the mechanism, whatever the records mean
(that is integrations/hook_drain.py): a file lock keeps it to one drain process; `spawn` starts
one detached (it survives the tool killing the hook, and writes nothing to it); `drain_exclusively`
holds the lock while it drains, and after releasing it looks once more, so a record appended
while it finished is never stranded.

Light on purpose: the hook path imports it.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path

#: The lock file in the spool folder (the name predates this module; drains of older versions use it too).
LOCK_NAME = "worker.lock"
#: Lock, drain, unlock, look again: at most this many times per process.
ROUNDS = 50


def lock_path(spool_dir: Path) -> Path:
    path = spool_dir / LOCK_NAME
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def drain_running(spool_dir: Path) -> bool:
    """Whether a drain process holds the lock now."""
    import fcntl

    fd = os.open(lock_path(spool_dir), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    finally:
        os.close(fd)


def spawn(argv: Sequence[str], on_error: Callable[[OSError], None]) -> None:
    """Start `argv` detached: its own session, no standard streams."""
    import subprocess

    try:
        subprocess.Popen(list(argv), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL, start_new_session=True, close_fds=True)
    except OSError as exc:
        on_error(exc)


def drain_exclusively(spool_dir: Path, drain: Callable[[], int], pending: Callable[[], bool]) -> int:
    """Run `drain` under the lock until `pending` says nothing is left; 0 at once if another holds it."""
    import fcntl

    done = 0
    for _ in range(ROUNDS):
        fd = os.open(lock_path(spool_dir), os.O_RDWR | os.O_CREAT, 0o600)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return done  # another drain is running
            done += drain()
            fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)
        if not pending():
            break
    return done
