"""The append-only event spool and the hook error log, both with size caps.

When the database is busy or broken, a hook appends its (already redacted) event to the
spool and exits 0; the next hook run drains it. Appends and the drain's claim happen under
an exclusive `flock`, so concurrent hook processes never interleave or lose lines: a drain
renames the spool to a private file, and anything it cannot store goes back to the spool.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

SPOOL_MAX_BYTES = 32 * 1024 * 1024
LOG_MAX_BYTES = 1024 * 1024
SPOOL_NAME = "events.jsonl"
ERROR_LOG = "hook-errors.log"
REJECTED_NAME = "rejected.jsonl"


@contextlib.contextmanager
def _locked(lock_path: Path) -> Iterator[None]:
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


class Spool:
    def __init__(self, folder: Path, log_dir: Path, *, max_bytes: int = SPOOL_MAX_BYTES) -> None:
        self.folder = folder
        self.path = folder / SPOOL_NAME
        self.lock = folder / ".lock"
        self.log_dir = log_dir
        self.max_bytes = max_bytes

    def append(self, records: list[dict[str, Any]]) -> bool:
        """Append records; False (and an error-log line) when the cap would be passed."""
        data = "".join(json.dumps(r, ensure_ascii=False, default=str) + "\n" for r in records).encode("utf-8")
        with _locked(self.lock):
            size = self.path.stat().st_size if self.path.exists() else 0
            if size + len(data) > self.max_bytes:
                log_error(self.log_dir, f"spool full ({size} bytes, cap {self.max_bytes}): {len(records)} event(s) "
                          "dropped; run any nexus hook with the database available to drain it")
                return False
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                os.write(fd, data)
                os.fsync(fd)
            finally:
                os.close(fd)
        return True

    def pending(self) -> bool:
        try:
            return self.path.stat().st_size > 0
        except FileNotFoundError:
            return False

    def size(self) -> int:
        try:
            return self.path.stat().st_size
        except FileNotFoundError:
            return 0

    def count(self) -> int:
        try:
            with self.path.open("rb") as fh:
                return sum(1 for line in fh if line.strip())
        except FileNotFoundError:
            return 0

    def drain(self, handle: Callable[[list[dict[str, Any]]], None], *, limit: int = 500,
              transient: Callable[[BaseException], bool] | None = None) -> int:
        """Claim the spool and hand its records to `handle`, one at a time; put back what is left.

        A record whose `handle` raises a `transient` error (the database is busy or gone) goes back with
        every record after it, and the error propagates: nothing was lost, the next drain retries. Any
        other error means the record itself cannot be stored (NaN, a value too large, a bug its shape
        triggers): it is set aside in `rejected.jsonl` with the reason, logged once, and the records
        after it are stored. One bad event never holds the others back. Without `transient` every
        error is transient (the old all-or-nothing behaviour).
        """
        if not self.pending() and not any(self.folder.glob("draining-*.jsonl")):
            return 0
        claimed = self.folder / f"draining-{os.getpid()}-{time.monotonic_ns()}.jsonl"
        with _locked(self.lock):
            self._adopt_orphans()
            if not self.pending():
                return 0
            os.replace(self.path, claimed)
        records: list[dict[str, Any]] = []
        bad = 0
        with claimed.open("r", encoding="utf-8", errors="replace") as fh:
            for line in fh:
                if not line.strip():
                    continue
                try:
                    value = json.loads(line)
                except (ValueError, RecursionError):
                    bad += 1
                    continue
                if isinstance(value, dict):
                    records.append(value)
                else:
                    bad += 1
        if bad:
            log_error(self.log_dir, f"spool: {bad} unreadable line(s) skipped")
        batch, rest = records[:limit], records[limit:]
        done = 0
        try:
            for rec in batch:
                try:
                    handle([rec])
                except Exception as exc:
                    if transient is None or transient(exc):
                        raise
                    self.set_aside(rec, exc)
                done += 1
        except BaseException:
            rest = batch[done:] + rest
            raise
        finally:
            if rest:
                self.append(rest)
            claimed.unlink(missing_ok=True)
        return done

    def set_aside(self, record: dict[str, Any], exc: BaseException) -> None:
        """Keep a record that cannot be stored, with why, in `rejected.jsonl` (capped like the spool)."""
        reason = f"{type(exc).__name__}: {exc}"[:500]
        line = json.dumps({"reason": reason, "record": record}, ensure_ascii=False, default=str) + "\n"
        path = self.folder / REJECTED_NAME
        data = line.encode("utf-8", errors="replace")
        with _locked(self.lock):
            size = path.stat().st_size if path.exists() else 0
            if size + len(data) <= self.max_bytes:
                fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
                try:
                    os.write(fd, data)
                finally:
                    os.close(fd)
                where = f"set aside in {path}"
            else:
                where = f"dropped ({path} is full)"
        kind = (record.get("event") or {}).get("event_name") if isinstance(record.get("event"), dict) else None
        log_error(self.log_dir, f"spool: a {record.get('type', 'record')} record ({kind or 'unknown event'}) "
                  f"cannot be stored and was {where}: {reason}")

    def _adopt_orphans(self) -> None:
        """A drainer that died mid-drain left its claimed file: its records go back (lock held)."""
        for orphan in self.folder.glob("draining-*.jsonl"):
            try:
                pid = int(orphan.name.split("-")[1])
            except (IndexError, ValueError):
                continue
            if pid == os.getpid() or _alive(pid):
                continue
            data = orphan.read_bytes()
            if data:
                fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
                try:
                    os.write(fd, data if data.endswith(b"\n") else data + b"\n")
                finally:
                    os.close(fd)
            orphan.unlink(missing_ok=True)
            log_error(self.log_dir, f"spool: recovered {orphan.name} from a drainer that stopped (pid {pid})")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def log_error(log_dir: Path, message: str) -> None:
    """One line in the hook error log; the log is rotated at 1 MB (one old file kept)."""
    try:
        log_dir.mkdir(parents=True, exist_ok=True)
        path = log_dir / ERROR_LOG
        with contextlib.suppress(FileNotFoundError):
            if path.stat().st_size > LOG_MAX_BYTES:
                os.replace(path, path.with_name(ERROR_LOG + ".1"))
        stamp = datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
        from nexus_memory.domain.redaction import redact_text  # an error message may quote the payload

        line = f"{stamp} pid={os.getpid()} {redact_text(' '.join(message.split()))[:2000]}\n"
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, line.encode("utf-8", errors="replace"))
        finally:
            os.close(fd)
    except OSError:
        pass
