"""Connecting to PostgreSQL: the pool, named forward-only migrations, error mapping."""

from __future__ import annotations

import re
from importlib import resources
from typing import Any

import psycopg
from psycopg import errors as pg_errors
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool

from nexus_memory.errors import Conflict, DatabaseBusy, NotFound, StorageError

# One arbitrary constant: every Nexus process takes this advisory lock while it migrates,
# so processes starting together on several machines apply each migration once.
MIGRATION_LOCK_KEY = 0x6E657875  # "nexu"


def redact_url(url: str) -> str:
    """The URL without its password, for messages."""
    return re.sub(r"(://[^:/@]+):[^@]*@", r"\1:***@", url)


def map_error(url: str, exc: psycopg.Error) -> StorageError:
    where = redact_url(url)
    if isinstance(exc, psycopg.OperationalError):
        return StorageError(
            f"cannot reach the PostgreSQL database {where} ({str(exc).strip().splitlines()[0] if str(exc) else exc})",
            hint="check the server is running and NEXUS_DATABASE_URL / --database-url is right",
        )
    if isinstance(exc, pg_errors.DeadlockDetected | pg_errors.SerializationFailure | pg_errors.LockNotAvailable):
        return DatabaseBusy(f"concurrent writers on {where} got in each other's way ({type(exc).__name__})",
                            hint="retry; nothing was written")
    if isinstance(exc, pg_errors.InsufficientPrivilege):
        return StorageError(
            f"the PostgreSQL user lacks a privilege on {where}: {exc}",
            hint="grant it, or have an administrator run `CREATE EXTENSION vector` once",
        )
    if isinstance(exc, pg_errors.UndefinedFile | pg_errors.FeatureNotSupported) and "vector" in str(exc):
        return StorageError(
            f"the pgvector extension is not installed on the server of {where}",
            hint="install pgvector for this PostgreSQL version (see docs/postgres.md)",
        )
    return StorageError(f"database error on {where}: {str(exc).strip()}")


def unique_violation_conflict(memory_id: int | None) -> Conflict:
    return Conflict(
        f"another active memory in this namespace already has that content (memory {memory_id} was not changed)",
        hint="edit or forget the other memory first",
    )


def missing_memory() -> NotFound:
    return NotFound("a memory in that relation does not exist", hint="check both ids")


def _configure(conn: psycopg.Connection[Any]) -> None:
    conn.execute("SET TIME ZONE 'UTC'")


def open_pool(url: str, *, min_size: int = 1, max_size: int = 8, timeout: float = 30.0) -> ConnectionPool[Any]:
    """An autocommit pool; callers open explicit transactions with `conn.transaction()`.

    One direct connection first: it fails fast with the server's own reason (no server,
    wrong password), where a pool would retry quietly until its timeout.
    """
    try:
        psycopg.connect(url, connect_timeout=10).close()
    except psycopg.Error as exc:
        raise map_error(url, exc) from None
    pool: ConnectionPool[Any] = ConnectionPool(
        url,
        min_size=min_size,
        max_size=max_size,
        timeout=timeout,
        kwargs={"autocommit": True, "row_factory": dict_row},
        configure=_configure,
        open=False,
        name="nexus",
    )
    try:
        pool.open(wait=True, timeout=timeout)
    except Exception as exc:  # psycopg_pool.PoolTimeout
        pool.close()
        raise StorageError(f"cannot open a connection pool to {redact_url(url)} ({exc})",
                           hint="check the server accepts connections") from None
    return pool


def migration_scripts() -> list[tuple[str, str]]:
    """(name, sql) of every bundled PostgreSQL migration, in name order."""
    folder = resources.files("nexus_memory.storage.postgres") / "migrations"
    items = [(entry.name.removesuffix(".sql"), entry.read_text("utf-8"))
             for entry in folder.iterdir() if entry.name.endswith(".sql")]
    return sorted(items)


def apply_migrations(conn: psycopg.Connection[Any]) -> list[str]:
    """Apply the migrations not yet recorded, each in its own transaction. Forward only."""
    done: list[str] = []
    conn.execute("SELECT pg_advisory_lock(%s)", (MIGRATION_LOCK_KEY,))
    try:
        conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (name TEXT PRIMARY KEY, "
            "applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"
        )
        applied = {r["name"] for r in conn.execute("SELECT name FROM schema_migrations").fetchall()}
        for name, sql in migration_scripts():
            if name in applied:
                continue
            with conn.transaction():
                conn.execute(sql.encode("utf-8"))  # a multi-statement script: simple query protocol
                conn.execute("INSERT INTO schema_migrations(name) VALUES (%s)", (name,))
            done.append(name)
    finally:
        conn.execute("SELECT pg_advisory_unlock(%s)", (MIGRATION_LOCK_KEY,))
    return done
