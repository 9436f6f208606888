"""The PostgreSQL implementation of the storage ports (psycopg 3, a connection pool).

Behaviour matches the SQLite adapter (the shared contract suite runs on both), and the
SQL the two share is in `storage/sql/` (SQLStore, in PostgreSQL's dialect). What is
PostgreSQL's own is here: the pool and transactions, dedup on store through a partial
unique index and INSERT ... ON CONFLICT (writes.py), text search (fts.py), pgvector
(vectors.py), and job claims with FOR UPDATE SKIP LOCKED (jobs.py).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import psycopg

from nexus_memory.domain.models import MemoryFilter, NewMemory, StoreOutcome, TextHit
from nexus_memory.domain.timeutil import utcnow
from nexus_memory.errors import DatabaseBusy
from nexus_memory.storage.postgres import fts
from nexus_memory.storage.postgres.connection import apply_migrations, open_pool
from nexus_memory.storage.postgres.dialect import POSTGRES
from nexus_memory.storage.postgres.vectors import PostgresVectorsMixin
from nexus_memory.storage.postgres.writes import store_batch
from nexus_memory.storage.sql.jobs import CLAIM_ORDER, LEASE
from nexus_memory.storage.sql.queries import filter_sql
from nexus_memory.storage.sql.store import SQLStore

Conn = psycopg.Connection[Any]


class PostgresStore(SQLStore, PostgresVectorsMixin):
    """One pool per process; every write is one explicit transaction."""

    backend = "postgres"
    dialect = POSTGRES
    #: Rows ranked exactly per text query (see storage/postgres/fts.py); tests lower it.
    fts_budget = fts.DEFAULT_BUDGET

    def __init__(self, url: str, *, migrate: bool = True, min_size: int = 1, max_size: int = 8) -> None:
        self.url = self.location = url
        self._pool = open_pool(url, min_size=min_size, max_size=max_size)
        if migrate:
            self.migrate()

    # plumbing -----------------------------------------------------------------
    @contextmanager
    def read(self) -> Iterator[Conn]:
        with self._errors(), self._pool.connection() as conn:
            yield conn

    @contextmanager
    def write(self) -> Iterator[Conn]:
        """One transaction on a pooled connection, errors mapped."""
        with self._errors(), self._pool.connection() as conn, conn.transaction():
            yield conn

    def migrate(self) -> list[str]:
        with self.read() as conn:
            return apply_migrations(conn)

    def applied_migrations(self) -> list[str]:
        with self.read() as conn:
            return [r["name"] for r in conn.execute("SELECT name FROM schema_migrations ORDER BY name")]

    def close(self) -> None:
        self._pool.close()

    def check_integrity(self) -> str:
        with self.read() as conn:
            conn.execute("SELECT 1")
        return "ok"

    # memories: dedup on store (writes.py) ---------------------------------------
    def _store_one(self, conn: Conn, new: NewMemory, ns_cache: dict[str, int]) -> tuple[int, bool]:
        return store_batch(conn, [new], lambda name: self._ns_cached(conn, name, ns_cache))[0]

    def _store_batch(self, items: Sequence[NewMemory]) -> list[tuple[int, bool]]:
        ns_cache: dict[str, int] = {}
        with self.write() as conn:
            return store_batch(conn, items, lambda name: self._ns_cached(conn, name, ns_cache))

    def _ns_cached(self, conn: Conn, name: str, ns_cache: dict[str, int]) -> int:
        if name not in ns_cache:
            ns_cache[name] = self._ensure_namespace(conn, name, name)
        return ns_cache[name]

    def store_many(self, items: Sequence[NewMemory]) -> list[StoreOutcome]:
        """Like `store` for each item, in one transaction (one multi-row INSERT where it can)."""
        for attempt in range(3):  # a deadlock between machines' batches aborts one of them: redo it
            try:
                results = self._store_batch(items)
                break
            except DatabaseBusy:
                if attempt == 2:
                    raise
        return self._outcomes(results)

    def text_search(self, query: str, flt: MemoryFilter, *, limit: int = 10) -> list[TextHit]:
        where, params = filter_sql(flt, POSTGRES)
        with self.read() as conn:
            return fts.search(conn, query, where, params, limit=int(limit), budget=self.fts_budget)

    def term_frequencies(self, terms: Sequence[str], *, cap: int = 2000) -> tuple[int, dict[str, int]]:
        """(about how many memories there are, document frequency of each term up to `cap`)."""
        with self.read() as conn:
            return fts.frequencies(conn, list(terms), int(cap))

    def _claim(self, conn: Conn, lease: Sequence[Any], where: str, params: Sequence[Any], limit: int) -> list[Any]:
        """One UPDATE over candidates locked FOR UPDATE SKIP LOCKED: workers on several machines
        never lease the same job and never wait on each other."""
        return list(POSTGRES.execute(
            conn, f"UPDATE memory_jobs SET {LEASE} WHERE id IN (SELECT id FROM memory_jobs WHERE {where} "
            f"ORDER BY {CLAIM_ORDER} LIMIT ? FOR UPDATE SKIP LOCKED) RETURNING *", [*lease, *params, limit],
        ).fetchall())

    def touch(self, ids: Iterable[int]) -> None:
        """access_count + 1 and last_accessed = now: one statement, rows locked in id order."""
        id_list = sorted(int(i) for i in ids)  # sorted: a fixed lock order, concurrent touches cannot deadlock
        if not id_list:
            return
        with self.write() as conn:
            conn.execute(
                "UPDATE memories m SET access_count = m.access_count + t.n, last_accessed = %s "
                "FROM (SELECT id, count(*) AS n FROM unnest(%s::bigint[]) AS u(id) GROUP BY id ORDER BY id) t "
                "WHERE m.id = t.id",
                (utcnow(), id_list),
            )
