"""Opening SQLite files: pragmas, migrations and error mapping."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import stat
import time
from collections.abc import Iterator
from pathlib import Path

from nexus_memory.domain.timeutil import to_iso, utcnow
from nexus_memory.errors import DatabaseBusy, DatabaseCorrupt, InvalidInput, StorageError


def corrupt_error(path: Path | str, exc: BaseException) -> DatabaseCorrupt:
    return DatabaseCorrupt(
        f"the database {path} is not a usable SQLite file ({exc})",
        hint=f"move it aside (mv '{path}' '{path}.corrupt') and run `nexus init`, or restore a backup",
    )


#: SQLITE_CORRUPT and SQLITE_NOTADB (primary result codes): the only errors that mean the file is damaged.
_CORRUPT_CODES = frozenset({11, 26})


def _is_corrupt(exc: sqlite3.Error) -> bool:
    """Real damage only: "malformed JSON" or "malformed MATCH expression" are not a broken file."""
    code = getattr(exc, "sqlite_errorcode", None)
    if isinstance(code, int):
        return (code & 0xFF) in _CORRUPT_CODES
    text = str(exc)
    return "database disk image is malformed" in text or "not a database" in text or "file is encrypted" in text


def map_error(path: Path | str, exc: sqlite3.Error) -> StorageError | InvalidInput:
    text = str(exc)
    if isinstance(exc, sqlite3.OperationalError) and ("locked" in text or "busy" in text):
        return DatabaseBusy(
            f"the database {path} stayed locked by another process",
            hint="retry in a moment; raise NEXUS_BUSY_TIMEOUT_MS if this keeps happening",
        )
    if _is_corrupt(exc):
        return corrupt_error(path, exc)
    if "malformed JSON" in text or "JSON cannot hold BLOB" in text:
        # SQLite's JSON functions refusing a value (NaN, Infinity): bad input, the file is fine
        return InvalidInput(f"invalid metadata: not JSON that SQLite can read ({text})",
                            hint="use null, numbers and strings; NaN and Infinity are not JSON")
    if isinstance(exc, sqlite3.OperationalError) and "unable to open" in text:
        return StorageError(f"cannot open the database {path}", hint="check the folder exists and is writable")
    if isinstance(exc, sqlite3.OperationalError) and "readonly" in text:
        return StorageError(f"the database {path} is read-only", hint="check the file's permissions")
    return StorageError(f"database error on {path}: {text}")


def open_connection(path: Path, busy_timeout_ms: int) -> sqlite3.Connection:
    """One connection with our pragmas; autocommit mode, explicit transactions."""
    if str(path) != ":memory:":
        _private_file(path)
    conn = sqlite3.connect(
        str(path), timeout=busy_timeout_ms / 1000, isolation_level=None, check_same_thread=False
    )
    conn.row_factory = sqlite3.Row
    try:
        conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
        mode = conn.execute("PRAGMA journal_mode").fetchone()[0]
        if str(mode).lower() != "wal" and str(path) != ":memory:":
            _retry_busy(lambda: conn.execute("PRAGMA journal_mode = WAL"), busy_timeout_ms)
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("PRAGMA temp_store = MEMORY")
        conn.execute("PRAGMA cache_size = -32000")
    except sqlite3.DatabaseError as exc:
        conn.close()
        raise map_error(path, exc) from None
    return conn


def _private_file(path: Path) -> None:
    """Create the database file 0600 in a 0700 folder before SQLite does (its WAL and shared-memory files
    take the database file's mode); tighten a file of ours that others could read."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        # O_EXCL: never open (and close) a file this process may already hold open through SQLite: closing
        # any descriptor of a file drops every POSIX lock the process holds on it (sqlite.org/howtocorrupt).
        with contextlib.suppress(FileExistsError):
            os.close(os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600))
        st = path.stat()
        # Only a regular file that is ours: never a folder (`--db /`), a device or someone else's file.
        if stat.S_ISREG(st.st_mode) and st.st_mode & 0o077 and st.st_uid == os.getuid():
            os.chmod(path, 0o600)
    except OSError:
        pass  # SQLite reports what matters (read-only, missing folder) with its own error


def _retry_busy(fn: object, busy_timeout_ms: int) -> None:
    deadline = time.monotonic() + busy_timeout_ms / 1000
    while True:
        try:
            fn()  # type: ignore[operator]
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.02)


@contextlib.contextmanager
def write_transaction(conn: sqlite3.Connection, busy_timeout_ms: int) -> Iterator[sqlite3.Connection]:
    """BEGIN IMMEDIATE: take the write lock up front, so read-then-write is race-free."""
    deadline = time.monotonic() + busy_timeout_ms / 1000
    delay = 0.005
    while True:
        try:
            conn.execute("BEGIN IMMEDIATE")
            break
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) and "busy" not in str(exc):
                raise
            if time.monotonic() > deadline:
                raise
            time.sleep(delay)
            delay = min(delay * 2, 0.1)
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    else:
        conn.execute("COMMIT")


MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def migration_names() -> list[str]:
    """Names of the bundled migrations, in order (a directory listing; no file is read)."""
    return sorted(entry.removesuffix(".sql") for entry in os.listdir(MIGRATIONS_DIR) if entry.endswith(".sql"))


def migration_scripts() -> list[tuple[str, str]]:
    """(name, sql) of every bundled migration, in name order."""
    return [(name, (MIGRATIONS_DIR / f"{name}.sql").read_text("utf-8")) for name in migration_names()]


def apply_migrations(conn: sqlite3.Connection, busy_timeout_ms: int) -> list[str]:
    """Apply the migrations not yet recorded, each in its own transaction. Forward only."""
    conn.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)"
    )
    applied = {r[0] for r in conn.execute("SELECT name FROM schema_migrations")}
    done: list[str] = []
    for name in migration_names():
        if name in applied:
            continue
        sql = (MIGRATIONS_DIR / f"{name}.sql").read_text("utf-8")
        with write_transaction(conn, busy_timeout_ms):
            # Another process may have applied it while we waited for the lock.
            if conn.execute("SELECT 1 FROM schema_migrations WHERE name = ?", (name,)).fetchone():
                continue
            for statement in _split_sql(sql):
                conn.execute(statement)
            conn.execute("INSERT INTO schema_migrations(name, applied_at) VALUES (?, ?)", (name, to_iso(utcnow())))
        done.append(name)
    return done


def _split_sql(sql: str) -> list[str]:
    """Split a script on `;` at statement ends, keeping trigger bodies whole."""
    statements: list[str] = []
    buf: list[str] = []
    for line in sql.splitlines():
        stripped = line.strip()
        if stripped.startswith("--") and not buf:
            continue
        buf.append(line)
        candidate = "\n".join(buf).strip()
        if candidate.endswith(";") and sqlite3.complete_statement(candidate):
            statements.append(candidate)
            buf = []
    tail = "\n".join(buf).strip()
    if tail and not all(ln.strip().startswith("--") or not ln.strip() for ln in buf):
        statements.append(tail)
    return statements
