"""The SQLite implementation of the storage ports.

The SQL it shares with PostgreSQL is in `storage/sql/` (SQLStore, in SQLite's dialect);
what is SQLite's own is here: one connection per thread, BEGIN IMMEDIATE write
transactions, dedup on store, FTS5 text search (fts.py), numpy vectors (vectors.py), and
claiming jobs.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from nexus_memory.domain.models import Memory, MemoryFilter, NewMemory, StoreOutcome, TextHit
from nexus_memory.domain.timeutil import utcnow
from nexus_memory.errors import Conflict
from nexus_memory.storage.common import (
    content_hash,
    merge_labels,
    merge_session_keys,
    session_keys_of,
)
from nexus_memory.storage.sql.jobs import CLAIM_ORDER, LEASE
from nexus_memory.storage.sql.queries import (
    FROM,
    MEMORY_COLUMNS,
    NEW_MARKS,
    NEW_NAMES,
    check_content,
    filter_sql,
    new_memory_row,
    row_to_memory,
)
from nexus_memory.storage.sql.store import SQLStore
from nexus_memory.storage.sqlite import fts
from nexus_memory.storage.sqlite.connection import apply_migrations, open_connection, write_transaction
from nexus_memory.storage.sqlite.dialect import SQLITE
from nexus_memory.storage.sqlite.vectors import SQLiteVectorsMixin


class SQLiteStore(SQLStore, SQLiteVectorsMixin):
    """One database file; a connection per thread; WAL so readers never wait on writers."""

    backend = "sqlite"
    dialect = SQLITE
    #: Postings a full-text query scores exactly (fts.py); tests lower it to reach the common-term path.
    fts_budget = fts.DEFAULT_BUDGET

    def __init__(self, path: Path | str, *, busy_timeout_ms: int = 10_000, migrate: bool = True) -> None:
        self.path = self.location = Path(path)
        self.busy_timeout_ms = busy_timeout_ms
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        if migrate:
            self.migrate()

    # plumbing -----------------------------------------------------------------
    @property
    def conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = open_connection(self.path, self.busy_timeout_ms)
            self._local.conn = conn
            with self._lock:
                self._all.append(conn)
        return conn

    @contextmanager
    def read(self) -> Iterator[sqlite3.Connection]:
        """This thread's connection (autocommit: each read sees the latest commit), errors mapped."""
        with self._errors():
            yield self.conn

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """A write transaction on this thread's connection, errors mapped."""
        with self._errors(), write_transaction(self.conn, self.busy_timeout_ms) as conn:
            yield conn

    def migrate(self) -> list[str]:
        with self._errors():
            return apply_migrations(self.conn, self.busy_timeout_ms)

    def applied_migrations(self) -> list[str]:
        with self._errors():
            return [r[0] for r in self.conn.execute("SELECT name FROM schema_migrations ORDER BY name")]

    def close(self) -> None:
        with self._lock:
            for conn in self._all:
                try:
                    conn.close()
                except sqlite3.Error:
                    pass
            self._all.clear()
        self._local = threading.local()

    def check_integrity(self) -> str:
        with self._errors():
            return str(self.conn.execute("PRAGMA quick_check").fetchone()[0])

    # memories: dedup on store --------------------------------------------------
    def _store_one(self, conn: sqlite3.Connection, new: NewMemory, ns_cache: dict[str, int]) -> tuple[int, bool]:
        check_content(new)
        ns_id = ns_cache.get(new.agent)
        if ns_id is None:
            ns_id = self._ensure_namespace(conn, new.agent, new.agent)
            ns_cache[new.agent] = ns_id
        digest = content_hash(new.content)
        moment = utcnow()
        now = SQLITE.time(moment)
        if new.is_active:
            row = conn.execute(
                "SELECT id, labels, metadata FROM memories WHERE namespace_id = ? AND content_hash = ? "
                "AND is_active = 1",
                (ns_id, digest),
            ).fetchone()
            if row is not None:
                labels = merge_labels(SQLITE.json_list(row["labels"]), new.labels)
                metadata = merge_session_keys(SQLITE.json_obj(row["metadata"]), session_keys_of(new))
                conn.execute(
                    "UPDATE memories SET labels = ?, metadata = ?, access_count = access_count + 1, "
                    "updated_at = ?, last_accessed = ? WHERE id = ?",
                    (SQLITE.json(labels), SQLITE.json(metadata), now, now, row["id"]),
                )
                return int(row["id"]), False
        if new.id is not None and conn.execute("SELECT 1 FROM memories WHERE id = ?", (new.id,)).fetchone():
            # as on PostgreSQL: a clear Conflict (the importer then takes a fresh id), not a UNIQUE failure
            raise Conflict(f"a memory with id {new.id} already exists",
                           hint="import it without its id, or delete the existing one first")
        cur = conn.execute(
            f"INSERT INTO memories(id, {NEW_NAMES}) VALUES (?, {NEW_MARKS})",
            (new.id, *new_memory_row(new, ns_id, SQLITE, moment, digest=digest, stamp=now)),
        )
        return int(cur.lastrowid or 0), True

    def store_many(self, items: Sequence[NewMemory]) -> list[StoreOutcome]:
        """Like `store` for each item, in one transaction."""
        results: list[tuple[int, bool]] = []
        ns_cache: dict[str, int] = {}
        with self.write() as conn:
            for new in items:
                results.append(self._store_one(conn, new, ns_cache))
        return self._outcomes(results)

    # text search, and the filter checks the vector index needs -------------------
    def text_search(self, query: str, flt: MemoryFilter, *, limit: int = 10) -> list[TextHit]:
        """BM25 over content, retrieval context and labels, with a bounded cost (see fts.py)."""
        where, params = filter_sql(flt, SQLITE)
        with self._errors():
            return fts.search(self.conn, query, where, params, limit=int(limit), budget=self.fts_budget)

    def term_frequencies(self, terms: Sequence[str], *, cap: int = 2000) -> tuple[int, dict[str, int]]:
        """(about how many memories there are, document frequency of each term up to `cap`)."""
        with self._errors():
            return fts.frequencies(self.conn, list(terms), int(cap))

    def _ids_passing(self, ids: Sequence[int], flt: MemoryFilter) -> set[int]:
        """Which of `ids` pass the filter (for vector candidates)."""
        if not ids:
            return set()
        where, params = filter_sql(flt, SQLITE)
        out: set[int] = set()
        unique = list(dict.fromkeys(int(i) for i in ids))
        with self._errors():
            for chunk in SQLITE.chunks(unique, reserved=len(params)):
                in_ids, id_params = SQLITE.in_list("m.id", chunk)
                rows = self.conn.execute(f"SELECT m.id {FROM} WHERE {in_ids} AND {where}", [*id_params, *params])
                out.update(int(r[0]) for r in rows)
        return out

    def _all_ids(self, flt: MemoryFilter) -> list[int]:
        where, params = filter_sql(flt, SQLITE)
        with self._errors():
            return [int(r[0]) for r in self.conn.execute(f"SELECT m.id {FROM} WHERE {where}", params)]

    def _memories_where(self, where: str, params: Sequence[Any], limit: int) -> list[Memory]:
        with self._errors():
            rows = self.conn.execute(
                f"SELECT {MEMORY_COLUMNS} {FROM} WHERE {where} LIMIT ?", [*params, int(limit)]
            ).fetchall()
        return [row_to_memory(r, SQLITE) for r in rows]

    # jobs: claims run in BEGIN IMMEDIATE, so two processes never lease the same job --
    def _claim(self, conn: Any, lease: Sequence[Any], where: str, params: Sequence[Any], limit: int) -> list[Any]:
        ids = [r[0] for r in conn.execute(
            f"SELECT id FROM memory_jobs WHERE {where} ORDER BY {CLAIM_ORDER} LIMIT ?", [*params, limit])]
        if not ids:
            return []
        in_ids, id_params = SQLITE.in_list("id", ids)
        conn.execute(f"UPDATE memory_jobs SET {LEASE} WHERE {in_ids}", [*lease, *id_params])
        return list(conn.execute(f"SELECT * FROM memory_jobs WHERE {in_ids}", id_params).fetchall())
