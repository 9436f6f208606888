"""The PostgreSQL implementation of the storage ports (psycopg 3, a connection pool).

Behaviour matches the SQLite adapter (the shared contract suite runs on both);
concurrency is PostgreSQL's: dedup through a partial unique index and
INSERT ... ON CONFLICT, job claims with FOR UPDATE SKIP LOCKED.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

import psycopg
from psycopg import errors as pg_errors
from psycopg.types.json import Jsonb

from nexus_memory.domain.models import (
    AgentNamespace,
    Evidence,
    Memory,
    MemoryFilter,
    MemoryPatch,
    MemoryRelation,
    NamespaceStats,
    NewMemory,
    SessionDigest,
    StoreOutcome,
    TextHit,
)
from nexus_memory.domain.timeutil import to_iso, utcnow
from nexus_memory.errors import DatabaseBusy, InvalidInput, NotFound, StorageError
from nexus_memory.storage.common import (
    derived_columns,
    patch_columns,
)
from nexus_memory.storage.postgres import fts
from nexus_memory.storage.postgres.bulk import PostgresBulkMixin
from nexus_memory.storage.postgres.connection import (
    apply_migrations,
    map_error,
    missing_memory,
    open_pool,
    unique_violation_conflict,
)
from nexus_memory.storage.postgres.jobs import PostgresJobsMixin
from nexus_memory.storage.postgres.queries import (
    FROM,
    MEMORY_COLUMNS,
    ORDERS,
    filter_sql,
    row_to_digest,
    row_to_memory,
    row_to_namespace,
    row_to_relation,
    utc,
)
from nexus_memory.storage.postgres.vectors import PostgresVectorsMixin
from nexus_memory.storage.postgres.writes import store_batch

Conn = psycopg.Connection[Any]


class PostgresStore(PostgresJobsMixin, PostgresVectorsMixin, PostgresBulkMixin):
    """One pool per process; every write is one explicit transaction."""

    backend = "postgres"
    #: Rows ranked exactly per text query (see storage/postgres/fts.py); tests lower it.
    fts_budget = fts.DEFAULT_BUDGET

    def __init__(self, url: str, *, migrate: bool = True, min_size: int = 1, max_size: int = 8) -> None:
        self.url = url
        self._pool = open_pool(url, min_size=min_size, max_size=max_size)
        if migrate:
            self.migrate()

    # plumbing -----------------------------------------------------------------
    @contextmanager
    def _errors(self) -> Iterator[None]:
        try:
            yield
        except psycopg.Error as exc:
            raise map_error(self.url, exc) from None

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

    # namespaces ---------------------------------------------------------------
    @staticmethod
    def _ensure_namespace(conn: Conn, name: str, agent_type: str | None) -> int:
        row = conn.execute("SELECT id FROM agent_namespaces WHERE name = %s", (name,)).fetchone()
        if row is None:
            row = conn.execute(
                "INSERT INTO agent_namespaces(name, agent_type) VALUES (%s, %s) "
                "ON CONFLICT (name) DO UPDATE SET name = EXCLUDED.name RETURNING id",
                (name, agent_type or name),
            ).fetchone()
        assert row is not None
        return int(row["id"])

    def ensure_namespace(self, name: str, agent_type: str | None = None) -> AgentNamespace:
        existing = self.get_namespace(name)
        if existing:
            return existing
        with self.write() as conn:
            self._ensure_namespace(conn, name, agent_type)
        ns = self.get_namespace(name)
        assert ns is not None
        return ns

    def get_namespace(self, name: str) -> AgentNamespace | None:
        with self.read() as conn:
            return row_to_namespace(conn.execute("SELECT * FROM agent_namespaces WHERE name = %s", (name,)).fetchone())

    def get_namespace_by_id(self, namespace_id: int) -> AgentNamespace | None:
        with self.read() as conn:
            row = conn.execute("SELECT * FROM agent_namespaces WHERE id = %s", (namespace_id,)).fetchone()
            return row_to_namespace(row)

    def list_namespaces(self) -> list[AgentNamespace]:
        with self.read() as conn:
            rows = conn.execute("SELECT * FROM agent_namespaces ORDER BY name").fetchall()
        return [ns for ns in (row_to_namespace(r) for r in rows) if ns]

    # memories -----------------------------------------------------------------
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

    def store(self, new: NewMemory) -> StoreOutcome:
        return self.store_many([new])[0]

    def store_many(self, items: Sequence[NewMemory]) -> list[StoreOutcome]:
        for attempt in range(3):  # a deadlock between machines' batches aborts one of them: redo it
            try:
                results = self._store_batch(items)
                break
            except DatabaseBusy:
                if attempt == 2:
                    raise
        memories = {m.id: m for m in self.get_many([i for i, _ in results])}
        return [StoreOutcome(memories[i], created) for i, created in results]

    def store_with_lineage(
        self, new: NewMemory, source_ids: Sequence[int], role: str, *, archive_sources: bool = False
    ) -> StoreOutcome:
        now = utcnow()
        with self.write() as conn:
            mem_id, created = self._store_one(conn, new, {})
            sources = [int(s) for s in source_ids if int(s) != mem_id]
            if sources:
                conn.execute(
                    "INSERT INTO memory_evidence(derived_memory_id, source_memory_id, evidence_role, created_at) "
                    "SELECT %s, id, %s, %s FROM memories WHERE id = ANY(%s) ON CONFLICT DO NOTHING",
                    (mem_id, role, now, sources),
                )
            if archive_sources and sources:
                stamp = {"status": "archived", "summary_memory_id": mem_id, "archived_at": to_iso(now)}
                conn.execute(
                    "UPDATE memories SET is_active = FALSE, is_archived = TRUE, updated_at = %s, "
                    "metadata = jsonb_set(metadata, '{distillation}', %s) WHERE id = ANY(%s)",
                    (now, Jsonb(stamp), sources),
                )
        memory = self.get(mem_id)
        assert memory is not None
        return StoreOutcome(memory, created)

    def get(self, memory_id: int) -> Memory | None:
        found = self.get_many([memory_id])
        return found[0] if found else None

    def get_many(self, ids: Sequence[int]) -> list[Memory]:
        if not ids:
            return []
        unique = list(dict.fromkeys(int(i) for i in ids))
        with self.read() as conn:
            rows = conn.execute(f"SELECT {MEMORY_COLUMNS} {FROM} WHERE m.id = ANY(%s)", (unique,)).fetchall()
        out = {int(r["id"]): row_to_memory(r) for r in rows}
        return [out[i] for i in unique if i in out]

    def update(self, memory_id: int, patch: MemoryPatch) -> Memory:
        now = utcnow()
        with self.write() as conn:
            row = conn.execute("SELECT * FROM memories WHERE id = %s FOR UPDATE", (memory_id,)).fetchone()
            if row is None:
                raise NotFound(f"memory {memory_id} does not exist", hint="list ids with `nexus list`")
            sets: dict[str, Any] = {"updated_at": now}
            changes = patch_columns(list(row["labels"] or []), dict(row["metadata"] or {}), row["session_key"], patch)
            for key, value in changes.items():
                sets[key] = Jsonb(value) if key in ("labels", "metadata") else value
            assignments = ", ".join(f"{k} = %s" for k in sets)
            try:
                with conn.transaction():
                    conn.execute(f"UPDATE memories SET {assignments} WHERE id = %s", [*sets.values(), memory_id])
            except pg_errors.UniqueViolation:
                raise unique_violation_conflict(memory_id) from None
        memory = self.get(memory_id)
        assert memory is not None
        return memory

    def delete(self, memory_id: int) -> bool:
        with self.write() as conn:
            return conn.execute("DELETE FROM memories WHERE id = %s", (memory_id,)).rowcount > 0

    def list_memories(
        self, flt: MemoryFilter, *, limit: int = 50, offset: int = 0, order: str = "newest"
    ) -> list[Memory]:
        where, params = filter_sql(flt)
        order_sql = ORDERS.get(order)
        if order_sql is None:
            raise InvalidInput(f"unknown order '{order}'", hint=f"use one of: {', '.join(ORDERS)}")
        with self.read() as conn:
            rows = conn.execute(
                f"SELECT {MEMORY_COLUMNS} {FROM} WHERE {where} ORDER BY {order_sql} LIMIT %s OFFSET %s",
                [*params, int(limit), int(offset)],
            ).fetchall()
        return [row_to_memory(r) for r in rows]

    def count(self, flt: MemoryFilter) -> int:
        where, params = filter_sql(flt)
        with self.read() as conn:
            row = conn.execute(f"SELECT count(*) AS n {FROM} WHERE {where}", params).fetchone()
        return int(row["n"]) if row else 0

    def text_search(self, query: str, flt: MemoryFilter, *, limit: int = 10) -> list[TextHit]:
        where, params = filter_sql(flt)
        with self.read() as conn:
            return fts.search(conn, query, where, params, limit=int(limit), budget=self.fts_budget)

    def term_frequencies(self, terms: Sequence[str], *, cap: int = 2000) -> tuple[int, dict[str, int]]:
        """(about how many memories there are, document frequency of each term up to `cap`)."""
        with self.read() as conn:
            return fts.frequencies(conn, list(terms), int(cap))

    def touch(self, ids: Iterable[int]) -> None:
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

    def stats(self, agents: Sequence[str] | None = None) -> list[NamespaceStats]:
        params: list[Any] = []
        where = ""
        if agents is not None:
            if not agents:
                return []
            where = "WHERE n.name = ANY(%s)"
            params = [list(agents)]
        with self.read() as conn:
            rows = conn.execute(
                "SELECT n.id, n.name, count(m.id) AS total, count(m.id) FILTER (WHERE m.is_active) AS active, "
                "count(m.id) FILTER (WHERE m.is_archived) AS archived, "
                "min(m.created_at) AS oldest, max(m.created_at) AS newest "
                f"FROM agent_namespaces n LEFT JOIN memories m ON m.namespace_id = n.id {where} "
                "GROUP BY n.id ORDER BY n.name",
                params,
            ).fetchall()
            cats = conn.execute(
                "SELECT namespace_id AS ns, category AS k, count(*) AS c FROM memories WHERE is_active "
                "GROUP BY namespace_id, category"
            ).fetchall()
            levels = conn.execute(
                "SELECT namespace_id AS ns, level AS k, count(*) AS c FROM memories WHERE is_active "
                "GROUP BY namespace_id, level"
            ).fetchall()
        by_cat: dict[int, dict[str, int]] = {}
        for r in cats:
            by_cat.setdefault(int(r["ns"]), {})[r["k"]] = int(r["c"])
        by_level: dict[int, dict[str, int]] = {}
        for r in levels:
            by_level.setdefault(int(r["ns"]), {})[r["k"]] = int(r["c"])
        return [
            NamespaceStats(
                namespace_name=r["name"], total_memories=int(r["total"]), active_memories=int(r["active"]),
                archived_memories=int(r["archived"]), categories=by_cat.get(int(r["id"]), {}),
                levels=by_level.get(int(r["id"]), {}),
                oldest_memory=utc(r["oldest"]), newest_memory=utc(r["newest"]),
            )
            for r in rows
        ]

    def daily_counts(self, agents: Sequence[str] | None = None, days: int = 30) -> dict[str, int]:
        since = utcnow().replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=days - 1)
        params: list[Any] = [since]
        extra = ""
        if agents is not None:
            if not agents:
                return {}
            extra = " AND n.name = ANY(%s)"
            params.append(list(agents))
        with self.read() as conn:
            rows = conn.execute(
                f"SELECT to_char(m.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS day, count(*) AS c {FROM} "
                f"WHERE m.created_at >= %s{extra} GROUP BY day ORDER BY day",
                params,
            ).fetchall()
        return {r["day"]: int(r["c"]) for r in rows}

    # relations and lineage ------------------------------------------------------
    def add_relation(self, relation: MemoryRelation) -> MemoryRelation:
        try:
            with self.write() as conn:
                row = conn.execute(
                    "INSERT INTO memory_relations(source_memory_id, target_memory_id, relation_type, strength, "
                    "metadata, created_at) VALUES (%s, %s, %s, %s, %s, %s) "
                    "ON CONFLICT (source_memory_id, target_memory_id, relation_type) DO UPDATE SET "
                    "strength = EXCLUDED.strength, metadata = EXCLUDED.metadata RETURNING *",
                    (relation.source_memory_id, relation.target_memory_id, relation.relation_type,
                     relation.strength, Jsonb(relation.metadata) if relation.metadata is not None else None,
                     relation.created_at or utcnow()),
                ).fetchone()
        except StorageError as exc:
            if "foreign key" in str(exc):
                raise missing_memory() from None
            raise
        assert row is not None
        return row_to_relation(row)

    def relations_for(self, memory_id: int) -> list[MemoryRelation]:
        with self.read() as conn:
            rows = conn.execute(
                "SELECT * FROM memory_relations WHERE source_memory_id = %s OR target_memory_id = %s "
                "ORDER BY strength DESC, id",
                (memory_id, memory_id),
            ).fetchall()
        return [row_to_relation(r) for r in rows]

    def add_evidence(self, items: Sequence[Evidence]) -> int:
        now = utcnow()
        added = 0
        with self.write() as conn:
            for ev in items:
                cur = conn.execute(
                    "INSERT INTO memory_evidence(derived_memory_id, source_memory_id, evidence_role, created_at) "
                    "VALUES (%s, %s, %s, %s) ON CONFLICT DO NOTHING",
                    (ev.derived_memory_id, ev.source_memory_id, ev.evidence_role, ev.created_at or now),
                )
                added += max(cur.rowcount, 0)
        return added

    def lineage(self, memory_id: int) -> list[Evidence]:
        with self.read() as conn:
            rows = conn.execute(
                "SELECT * FROM memory_evidence WHERE derived_memory_id = %s OR source_memory_id = %s ORDER BY id",
                (memory_id, memory_id),
            ).fetchall()
        return [
            Evidence(id=int(r["id"]), derived_memory_id=int(r["derived_memory_id"]),
                     source_memory_id=int(r["source_memory_id"]), evidence_role=r["evidence_role"],
                     created_at=utc(r["created_at"]))
            for r in rows
        ]

    def lineage_batch(self, memory_ids: Sequence[int], roles: Sequence[str] | None = None) -> list[Evidence]:
        ids = list(dict.fromkeys(int(i) for i in memory_ids))
        if not ids:
            return []
        sql = ("SELECT * FROM memory_evidence WHERE (derived_memory_id = ANY(%s) OR source_memory_id = ANY(%s))"
               + (" AND evidence_role = ANY(%s)" if roles else "") + " ORDER BY id")
        params: list[Any] = [ids, ids] + ([list(roles)] if roles else [])
        with self.read() as conn:
            rows = conn.execute(sql, params).fetchall()
        return [
            Evidence(id=int(r["id"]), derived_memory_id=int(r["derived_memory_id"]),
                     source_memory_id=int(r["source_memory_id"]), evidence_role=r["evidence_role"],
                     created_at=utc(r["created_at"]))
            for r in rows
        ]

    def update_metadata_many(self, items: Sequence[tuple[int, dict[str, Any]]]) -> int:
        if not items:
            return 0
        now = utcnow()
        changed = 0
        with self.write() as conn:
            for memory_id, metadata in items:
                row = conn.execute("SELECT labels, session_key FROM memories WHERE id = %s FOR UPDATE",
                                   (memory_id,)).fetchone()
                if row is None:
                    continue
                level, session_key, is_raw = derived_columns(list(row["labels"] or []), metadata)
                changed += conn.execute(
                    "UPDATE memories SET metadata = %s, level = %s, session_key = %s, is_raw = %s, updated_at = %s "
                    "WHERE id = %s",
                    (Jsonb(metadata), level, session_key or row["session_key"], is_raw, now, memory_id),
                ).rowcount
        return changed

    # digests ------------------------------------------------------------------
    def upsert_digest(self, digest: SessionDigest) -> SessionDigest:
        with self.write() as conn:
            row = conn.execute(
                "INSERT INTO session_digests(namespace_id, session_key, digest_kind, memory_id, start_memory_id, "
                "end_memory_id, token_count, created_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s) "
                "ON CONFLICT (namespace_id, session_key, digest_kind, end_memory_id) DO UPDATE SET "
                "memory_id = EXCLUDED.memory_id, token_count = EXCLUDED.token_count RETURNING *",
                (digest.namespace_id, digest.session_key, digest.digest_kind, digest.memory_id,
                 digest.start_memory_id, digest.end_memory_id, digest.token_count, digest.created_at or utcnow()),
            ).fetchone()
        assert row is not None
        return row_to_digest(row)

    def latest_digest(
        self, namespace_id: int, kind: str, session_key: str | None = None
    ) -> SessionDigest | None:
        sql = "SELECT * FROM session_digests WHERE namespace_id = %s AND digest_kind = %s"
        params: list[Any] = [namespace_id, kind]
        if session_key is not None:
            sql += " AND session_key = %s"
            params.append(session_key)
        sql += " ORDER BY coalesce(end_memory_id, 0) DESC, id DESC LIMIT 1"
        with self.read() as conn:
            row = conn.execute(sql, params).fetchone()
        return row_to_digest(row) if row else None

    def list_digests(
        self, namespace_id: int | None = None, session_key: str | None = None, limit: int = 50
    ) -> list[SessionDigest]:
        where: list[str] = []
        params: list[Any] = []
        if namespace_id is not None:
            where.append("namespace_id = %s")
            params.append(namespace_id)
        if session_key is not None:
            where.append("session_key = %s")
            params.append(session_key)
        sql = "SELECT * FROM session_digests" + (" WHERE " + " AND ".join(where) if where else "")
        sql += " ORDER BY id DESC LIMIT %s"
        with self.read() as conn:
            rows = conn.execute(sql, [*params, limit]).fetchall()
        return [row_to_digest(r) for r in rows]

    def prune_digests(self, namespace_id: int, session_key: str, kind: str, keep_id: int) -> int:
        with self.write() as conn:
            return int(conn.execute(
                "DELETE FROM session_digests WHERE namespace_id = %s AND session_key = %s AND digest_kind = %s "
                "AND id <> %s",
                (namespace_id, session_key, kind, keep_id),
            ).rowcount)

    # metrics ------------------------------------------------------------------
    def record_metrics(self, samples: Sequence[tuple[str, float, dict[str, Any]]]) -> None:
        if not samples:
            return
        now = utcnow()
        with self.write() as conn, conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO system_metrics(metric_name, metric_value, labels, recorded_at) VALUES (%s, %s, %s, %s)",
                [(name, float(value), Jsonb(labels), now) for name, value, labels in samples],
            )

    def latest_metrics(self, prefix: str = "", limit: int = 100) -> list[tuple[str, float, dict[str, Any], datetime]]:
        with self.read() as conn:
            rows = conn.execute(
                "SELECT metric_name, metric_value, labels, recorded_at FROM system_metrics "
                "WHERE starts_with(metric_name, %s) ORDER BY id DESC LIMIT %s",
                (prefix, limit),
            ).fetchall()
        return [(r["metric_name"], r["metric_value"], dict(r["labels"] or {}), r["recorded_at"]) for r in rows]
