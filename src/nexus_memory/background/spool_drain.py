"""The detached spool drain: one process at a time drains what the hooks spooled.

A hook never waits for the database on a tool call: it appends the event to a spool and, at the
end of a turn, makes sure a drain process runs (integrations/hook_drain.py starts it, detached, and
says what a record means). This is the drain process's side: it holds a file lock while it drains,
so there is only ever one, and after releasing the lock it looks once more, so a record appended
while it finished is never stranded.

The hook itself never imports this module (its hand-off only checks the lock and spawns a
process), so the hook path loads nothing more than before background work had a package.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

#: Lock, drain, unlock, look again: at most this many times per process.
ROUNDS = 50


def drain_exclusively(lock_path: Path, drain: Callable[[], int], pending: Callable[[], bool]) -> int:
    """Run `drain` holding `lock_path` until `pending` says nothing is left; 0 at once if another holds it."""
    import fcntl

    lock_path.parent.mkdir(parents=True, exist_ok=True)
    done = 0
    for _ in range(ROUNDS):
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
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
