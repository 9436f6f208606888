"""The SQLite implementation of the storage ports."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from nexus_memory.domain.enums import MemoryCategory, MemoryLaneType
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
from nexus_memory.domain.timeutil import from_iso, to_iso, utcnow
from nexus_memory.errors import InvalidInput, NotFound, StorageError
from nexus_memory.storage.common import (
    content_hash,
    derived_columns,
    dumps,
    loads_list,
    loads_obj,
    merge_labels,
    merge_session_keys,
    patch_columns,
    session_keys_of,
)
from nexus_memory.storage.sqlite import fts
from nexus_memory.storage.sqlite.bulk import SQLiteBulkMixin
from nexus_memory.storage.sqlite.connection import (
    apply_migrations,
    map_error,
    open_connection,
    write_transaction,
)
from nexus_memory.storage.sqlite.jobs import SQLiteJobsMixin
from nexus_memory.storage.sqlite.vectors import SQLiteVectorsMixin

METRICS_KEEP_DAYS = 30
METRICS_MAX_ROWS = 100_000

MEMORY_COLUMNS = (
    "m.id, m.namespace_id, m.content, m.context, m.category, m.memory_lane_type, m.labels, m.metadata, "
    "m.session_key, m.similarity_score, m.relevance_score, m.embedding_model, m.created_at, m.updated_at, "
    "m.last_accessed, m.is_active, m.is_archived, m.access_count, n.name AS agent"
)
_FROM = "FROM memories m JOIN agent_namespaces n ON n.id = m.namespace_id"

_ORDERS = {
    "newest": "m.created_at DESC, m.id DESC",
    "oldest": "m.created_at ASC, m.id ASC",
    "updated": "COALESCE(m.updated_at, m.created_at) DESC, m.id DESC",
    "reinforced": "CAST(json_extract(m.metadata, '$.cognitive.times_reinforced') AS INTEGER) DESC, "
                  "m.created_at DESC",
    "contradicted": "CAST(json_extract(m.metadata, '$.cognitive.times_contradicted') AS INTEGER) DESC, "
                    "m.created_at DESC",
    "accessed": "m.access_count DESC, m.created_at DESC",
}


def row_to_memory(row: sqlite3.Row) -> Memory:
    return Memory(
        id=row["id"],
        namespace_id=row["namespace_id"],
        content=row["content"],
        category=MemoryCategory.from_db(row["category"]),
        memory_lane_type=MemoryLaneType.from_db(row["memory_lane_type"]),
        labels=tuple(loads_list(row["labels"])),
        metadata=loads_obj(row["metadata"]),
        created_at=from_iso(row["created_at"]),
        updated_at=from_iso(row["updated_at"]),
        last_accessed=from_iso(row["last_accessed"]),
        is_active=bool(row["is_active"]),
        is_archived=bool(row["is_archived"]),
        access_count=row["access_count"] or 0,
        similarity_score=row["similarity_score"],
        relevance_score=row["relevance_score"],
        embedding_model=row["embedding_model"],
        context=row["context"],
        agent=row["agent"],
        session_key=row["session_key"],
    )


def filter_sql(flt: MemoryFilter) -> tuple[str, list[Any]]:
    """WHERE clause (without the keyword) and parameters for a MemoryFilter."""
    where: list[str] = []
    params: list[Any] = []

    def _in(column: str, values: Sequence[Any]) -> None:
        where.append(f"{column} IN ({','.join('?' * len(values))})")
        params.extend(values)

    if not flt.include_inactive:
        where.append("m.is_active = 1")
    if not flt.include_archived:
        where.append("m.is_archived = 0")
    if not flt.include_raw:
        where.append("m.is_raw = 0")
    if flt.agents is not None:
        if not flt.agents:
            where.append("0")
        else:
            _in("n.name", list(flt.agents))
    if flt.categories:
        _in("m.category", [c.value for c in flt.categories])
    if flt.lanes:
        _in("m.memory_lane_type", [lane.value for lane in flt.lanes])
    if flt.levels:
        _in("m.level", [lv.value for lv in flt.levels])
    if flt.ids is not None:
        if not flt.ids:
            where.append("0")
        else:
            _in("m.id", list(flt.ids))
    for label in flt.labels or ():
        where.append("EXISTS (SELECT 1 FROM json_each(m.labels) WHERE lower(json_each.value) = lower(?))")
        params.append(label)
    if flt.session_key:
        where.append(
            "(m.session_key = ? OR EXISTS (SELECT 1 FROM json_each(m.metadata, '$.cognitive.session_keys') "
            "WHERE json_each.value = ?))"
        )
        params.extend([flt.session_key, flt.session_key])
    if flt.since:
        where.append("m.created_at >= ?")
        params.append(to_iso(flt.since))
    if flt.until:
        where.append("m.created_at <= ?")
        params.append(to_iso(flt.until))
    return (" AND ".join(where) or "1"), params


class SQLiteStore(SQLiteJobsMixin, SQLiteVectorsMixin, SQLiteBulkMixin):
    """One database file; a connection per thread; WAL so readers never wait on writers."""

    backend = "sqlite"
    #: Postings a full-text query scores exactly (fts.py); tests lower it to reach the common-term path.
    fts_budget = fts.DEFAULT_BUDGET

    def __init__(self, path: Path | str, *, busy_timeout_ms: int = 10_000, migrate: bool = True) -> None:
        self.path = Path(path)
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
    def _errors(self) -> Iterator[None]:
        try:
            yield
        except sqlite3.Error as exc:
            raise map_error(self.path, exc) from None

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

    # namespaces ---------------------------------------------------------------
    def _row_ns(self, row: sqlite3.Row | None) -> AgentNamespace | None:
        if row is None:
            return None
        return AgentNamespace(
            id=row["id"], name=row["name"], agent_type=row["agent_type"], description=row["description"],
            created_at=from_iso(row["created_at"]), updated_at=from_iso(row["updated_at"]),
        )

    def _ensure_namespace(self, conn: sqlite3.Connection, name: str, agent_type: str | None) -> int:
        conn.execute(
            "INSERT OR IGNORE INTO agent_namespaces(name, agent_type, created_at) VALUES (?, ?, ?)",
            (name, agent_type or name, to_iso(utcnow())),
        )
        return int(conn.execute("SELECT id FROM agent_namespaces WHERE name = ?", (name,)).fetchone()[0])

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
        with self._errors():
            return self._row_ns(self.conn.execute("SELECT * FROM agent_namespaces WHERE name = ?", (name,)).fetchone())

    def get_namespace_by_id(self, namespace_id: int) -> AgentNamespace | None:
        with self._errors():
            row = self.conn.execute("SELECT * FROM agent_namespaces WHERE id = ?", (namespace_id,)).fetchone()
            return self._row_ns(row)

    def list_namespaces(self) -> list[AgentNamespace]:
        with self._errors():
            rows = self.conn.execute("SELECT * FROM agent_namespaces ORDER BY name").fetchall()
        return [ns for ns in (self._row_ns(r) for r in rows) if ns]

    # memories -----------------------------------------------------------------
    def _store_one(self, conn: sqlite3.Connection, new: NewMemory, ns_cache: dict[str, int]) -> tuple[int, bool]:
        if not new.content.strip():
            raise InvalidInput("the memory content is empty", hint="pass some text to store")
        ns_id = ns_cache.get(new.agent)
        if ns_id is None:
            ns_id = self._ensure_namespace(conn, new.agent, new.agent)
            ns_cache[new.agent] = ns_id
        digest = content_hash(new.content)
        now = to_iso(utcnow())
        if new.is_active:
            row = conn.execute(
                "SELECT id, labels, metadata FROM memories WHERE namespace_id = ? AND content_hash = ? "
                "AND is_active = 1",
                (ns_id, digest),
            ).fetchone()
            if row is not None:
                labels = merge_labels(loads_list(row["labels"]), new.labels)
                metadata = merge_session_keys(loads_obj(row["metadata"]), session_keys_of(new))
                conn.execute(
                    "UPDATE memories SET labels = ?, metadata = ?, access_count = access_count + 1, "
                    "updated_at = ?, last_accessed = ? WHERE id = ?",
                    (dumps(labels), dumps(metadata), now, now, row["id"]),
                )
                return int(row["id"]), False
        labels = merge_labels([], new.labels)
        level, session_key, is_raw = derived_columns(labels, new.metadata)
        cur = conn.execute(
            "INSERT INTO memories(id, namespace_id, content, content_hash, context, category, memory_lane_type, "
            "labels, metadata, level, session_key, is_raw, created_at, updated_at, is_active, is_archived) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                new.id, ns_id, new.content, digest, new.context, new.category.value,
                new.memory_lane_type.value if new.memory_lane_type else None,
                dumps(labels), dumps(new.metadata), level, session_key or new.session_key, int(is_raw),
                to_iso(new.created_at) if new.created_at else now, now,
                int(new.is_active), int(new.is_archived),
            ),
        )
        return int(cur.lastrowid or 0), True

    def store(self, new: NewMemory) -> StoreOutcome:
        return self.store_many([new])[0]

    def store_many(self, items: Sequence[NewMemory]) -> list[StoreOutcome]:
        results: list[tuple[int, bool]] = []
        ns_cache: dict[str, int] = {}
        with self.write() as conn:
            for new in items:
                results.append(self._store_one(conn, new, ns_cache))
        memories = {m.id: m for m in self.get_many([i for i, _ in results])}
        return [StoreOutcome(memories[i], created) for i, created in results]

    def store_with_lineage(
        self, new: NewMemory, source_ids: Sequence[int], role: str, *, archive_sources: bool = False
    ) -> StoreOutcome:
        now = to_iso(utcnow())
        with self.write() as conn:
            mem_id, created = self._store_one(conn, new, {})
            for src in source_ids:
                if src == mem_id:
                    continue
                conn.execute(
                    "INSERT OR IGNORE INTO memory_evidence(derived_memory_id, source_memory_id, evidence_role, "
                    "created_at) SELECT ?, id, ?, ? FROM memories WHERE id = ?",
                    (mem_id, role, now, src),
                )
            if archive_sources and source_ids:
                marks = ",".join("?" * len(source_ids))
                for row in conn.execute(f"SELECT id, metadata FROM memories WHERE id IN ({marks})", list(source_ids)):
                    meta = loads_obj(row["metadata"])
                    meta["distillation"] = {"status": "archived", "summary_memory_id": mem_id, "archived_at": now}
                    conn.execute(
                        "UPDATE memories SET is_active = 0, is_archived = 1, metadata = ?, updated_at = ? "
                        "WHERE id = ?",
                        (dumps(meta), now, row["id"]),
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
        out: dict[int, Memory] = {}
        unique = list(dict.fromkeys(int(i) for i in ids))
        with self._errors():
            for start in range(0, len(unique), 500):
                chunk = unique[start : start + 500]
                rows = self.conn.execute(
                    f"SELECT {MEMORY_COLUMNS} {_FROM} WHERE m.id IN ({','.join('?' * len(chunk))})", chunk
                ).fetchall()
                out.update((r["id"], row_to_memory(r)) for r in rows)
        return [out[i] for i in unique if i in out]

    def update(self, memory_id: int, patch: MemoryPatch) -> Memory:
        now = to_iso(utcnow())
        with self.write() as conn:
            row = conn.execute("SELECT * FROM memories WHERE id = ?", (memory_id,)).fetchone()
            if row is None:
                raise NotFound(f"memory {memory_id} does not exist", hint="list ids with `nexus list`")
            sets: dict[str, Any] = {"updated_at": now}
            changes = patch_columns(loads_list(row["labels"]), loads_obj(row["metadata"]), row["session_key"], patch)
            for key, value in changes.items():
                sets[key] = dumps(value) if key in ("labels", "metadata") else \
                    int(value) if isinstance(value, bool) else value
            assignments = ", ".join(f"{k} = ?" for k in sets)
            try:
                conn.execute(f"UPDATE memories SET {assignments} WHERE id = ?", [*sets.values(), memory_id])
            except sqlite3.IntegrityError:
                from nexus_memory.errors import Conflict

                raise Conflict(
                    f"another active memory in this namespace already has that content (memory {memory_id} "
                    "was not changed)",
                    hint="edit or forget the other memory first",
                ) from None
        memory = self.get(memory_id)
        assert memory is not None
        return memory

    def delete(self, memory_id: int) -> bool:
        with self.write() as conn:
            return conn.execute("DELETE FROM memories WHERE id = ?", (memory_id,)).rowcount > 0

    def list_memories(
        self, flt: MemoryFilter, *, limit: int = 50, offset: int = 0, order: str = "newest"
    ) -> list[Memory]:
        where, params = filter_sql(flt)
        order_sql = _ORDERS.get(order)
        if order_sql is None:
            raise InvalidInput(f"unknown order '{order}'", hint=f"use one of: {', '.join(_ORDERS)}")
        with self._errors():
            rows = self.conn.execute(
                f"SELECT {MEMORY_COLUMNS} {_FROM} WHERE {where} ORDER BY {order_sql} LIMIT ? OFFSET ?",
                [*params, int(limit), int(offset)],
            ).fetchall()
        return [row_to_memory(r) for r in rows]

    def count(self, flt: MemoryFilter) -> int:
        where, params = filter_sql(flt)
        with self._errors():
            return int(self.conn.execute(f"SELECT count(*) {_FROM} WHERE {where}", params).fetchone()[0])

    def text_search(self, query: str, flt: MemoryFilter, *, limit: int = 10) -> list[TextHit]:
        """BM25 over content, retrieval context and labels, with a bounded cost (see fts.py)."""
        where, params = filter_sql(flt)
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
        where, params = filter_sql(flt)
        out: set[int] = set()
        unique = list(dict.fromkeys(int(i) for i in ids))
        with self._errors():
            for start in range(0, len(unique), 500):
                chunk = unique[start:start + 500]
                rows = self.conn.execute(
                    f"SELECT m.id {_FROM} WHERE m.id IN ({','.join('?' * len(chunk))}) AND {where}",
                    [*chunk, *params],
                ).fetchall()
                out.update(int(r[0]) for r in rows)
        return out

    def _all_ids(self, flt: MemoryFilter) -> list[int]:
        where, params = filter_sql(flt)
        with self._errors():
            return [int(r[0]) for r in self.conn.execute(f"SELECT m.id {_FROM} WHERE {where}", params)]

    def _memories_where(self, where: str, params: Sequence[Any], limit: int) -> list[Memory]:
        with self._errors():
            rows = self.conn.execute(
                f"SELECT {MEMORY_COLUMNS} {_FROM} WHERE {where} LIMIT ?", [*params, int(limit)]
            ).fetchall()
        return [row_to_memory(r) for r in rows]

    def touch(self, ids: Iterable[int]) -> None:
        id_list = list(ids)
        if not id_list:
            return
        now = to_iso(utcnow())
        with self.write() as conn:
            conn.executemany(
                "UPDATE memories SET access_count = access_count + 1, last_accessed = ? WHERE id = ?",
                [(now, i) for i in id_list],
            )

    def stats(self, agents: Sequence[str] | None = None) -> list[NamespaceStats]:
        params: list[Any] = []
        where = ""
        if agents is not None:
            if not agents:
                return []
            where = f"WHERE n.name IN ({','.join('?' * len(agents))})"
            params = list(agents)
        with self._errors():
            rows = self.conn.execute(
                "SELECT n.id, n.name, count(m.id) AS total, "
                "coalesce(sum(m.is_active), 0) AS active, coalesce(sum(m.is_archived), 0) AS archived, "
                "min(m.created_at) AS oldest, max(m.created_at) AS newest "
                f"FROM agent_namespaces n LEFT JOIN memories m ON m.namespace_id = n.id {where} "
                "GROUP BY n.id ORDER BY n.name",
                params,
            ).fetchall()
            cats = self.conn.execute(
                "SELECT namespace_id, category, count(*) FROM memories WHERE is_active = 1 "
                "GROUP BY namespace_id, category"
            ).fetchall()
            levels = self.conn.execute(
                "SELECT namespace_id, level, count(*) FROM memories WHERE is_active = 1 GROUP BY namespace_id, level"
            ).fetchall()
        by_cat: dict[int, dict[str, int]] = {}
        for ns_id, cat, n in cats:
            by_cat.setdefault(ns_id, {})[cat] = n
        by_level: dict[int, dict[str, int]] = {}
        for ns_id, lvl, n in levels:
            by_level.setdefault(ns_id, {})[lvl] = n
        return [
            NamespaceStats(
                namespace_name=r["name"], total_memories=r["total"], active_memories=r["active"],
                archived_memories=r["archived"], categories=by_cat.get(r["id"], {}),
                levels=by_level.get(r["id"], {}),
                oldest_memory=from_iso(r["oldest"]), newest_memory=from_iso(r["newest"]),
            )
            for r in rows
        ]

    def daily_counts(self, agents: Sequence[str] | None = None, days: int = 30) -> dict[str, int]:
        since = to_iso(utcnow().replace(hour=0, minute=0, second=0, microsecond=0)
                       - __import__("datetime").timedelta(days=days - 1))
        params: list[Any] = [since]
        extra = ""
        if agents is not None:
            if not agents:
                return {}
            extra = f" AND n.name IN ({','.join('?' * len(agents))})"
            params.extend(agents)
        with self._errors():
            rows = self.conn.execute(
                f"SELECT substr(m.created_at, 1, 10) AS day, count(*) {_FROM} "
                f"WHERE m.created_at >= ?{extra} GROUP BY day ORDER BY day",
                params,
            ).fetchall()
        return {r[0]: r[1] for r in rows}

    # relations and lineage ------------------------------------------------------
    def add_relation(self, relation: MemoryRelation) -> MemoryRelation:
        now = to_iso(utcnow())
        with self.write() as conn:
            try:
                conn.execute(
                    "INSERT INTO memory_relations(source_memory_id, target_memory_id, relation_type, strength, "
                    "metadata, created_at) VALUES (?, ?, ?, ?, ?, ?) "
                    "ON CONFLICT(source_memory_id, target_memory_id, relation_type) DO UPDATE SET "
                    "strength = excluded.strength, metadata = excluded.metadata",
                    (relation.source_memory_id, relation.target_memory_id, relation.relation_type,
                     relation.strength, dumps(relation.metadata) if relation.metadata is not None else None, now),
                )
            except sqlite3.IntegrityError:
                raise NotFound("a memory in that relation does not exist", hint="check both ids") from None
            row = conn.execute(
                "SELECT * FROM memory_relations WHERE source_memory_id = ? AND target_memory_id = ? "
                "AND relation_type = ?",
                (relation.source_memory_id, relation.target_memory_id, relation.relation_type),
            ).fetchone()
        return self._row_relation(row)

    @staticmethod
    def _row_relation(row: sqlite3.Row) -> MemoryRelation:
        return MemoryRelation(
            id=row["id"], source_memory_id=row["source_memory_id"], target_memory_id=row["target_memory_id"],
            relation_type=row["relation_type"], strength=row["strength"],
            metadata=loads_obj(row["metadata"]) if row["metadata"] else None,
            created_at=from_iso(row["created_at"]),
        )

    def relations_for(self, memory_id: int) -> list[MemoryRelation]:
        with self._errors():
            rows = self.conn.execute(
                "SELECT * FROM memory_relations WHERE source_memory_id = ? OR target_memory_id = ? "
                "ORDER BY strength DESC, id",
                (memory_id, memory_id),
            ).fetchall()
        return [self._row_relation(r) for r in rows]

    def add_evidence(self, items: Sequence[Evidence]) -> int:
        now = to_iso(utcnow())
        added = 0
        with self.write() as conn:
            for ev in items:
                cur = conn.execute(
                    "INSERT OR IGNORE INTO memory_evidence(derived_memory_id, source_memory_id, evidence_role, "
                    "created_at) VALUES (?, ?, ?, ?)",
                    (ev.derived_memory_id, ev.source_memory_id, ev.evidence_role,
                     to_iso(ev.created_at) if ev.created_at else now),
                )
                added += cur.rowcount
        return added

    def lineage(self, memory_id: int) -> list[Evidence]:
        with self._errors():
            rows = self.conn.execute(
                "SELECT * FROM memory_evidence WHERE derived_memory_id = ? OR source_memory_id = ? ORDER BY id",
                (memory_id, memory_id),
            ).fetchall()
        return [
            Evidence(id=r["id"], derived_memory_id=r["derived_memory_id"], source_memory_id=r["source_memory_id"],
                     evidence_role=r["evidence_role"], created_at=from_iso(r["created_at"]))
            for r in rows
        ]

    def lineage_batch(self, memory_ids: Sequence[int], roles: Sequence[str] | None = None) -> list[Evidence]:
        ids = list(dict.fromkeys(int(i) for i in memory_ids))
        out: list[Evidence] = []
        role_sql = f" AND evidence_role IN ({','.join('?' * len(roles))})" if roles else ""
        with self._errors():
            for start in range(0, len(ids), 400):
                chunk = ids[start : start + 400]
                marks = ",".join("?" * len(chunk))
                rows = self.conn.execute(
                    f"SELECT * FROM memory_evidence WHERE (derived_memory_id IN ({marks}) "
                    f"OR source_memory_id IN ({marks})){role_sql} ORDER BY id",
                    [*chunk, *chunk, *(roles or [])],
                ).fetchall()
                out.extend(
                    Evidence(id=r["id"], derived_memory_id=r["derived_memory_id"],
                             source_memory_id=r["source_memory_id"], evidence_role=r["evidence_role"],
                             created_at=from_iso(r["created_at"]))
                    for r in rows
                )
        unique = {ev.id: ev for ev in out}
        return sorted(unique.values(), key=lambda ev: ev.id or 0)

    def update_metadata_many(self, items: Sequence[tuple[int, dict[str, Any]]]) -> int:
        if not items:
            return 0
        now = to_iso(utcnow())
        changed = 0
        with self.write() as conn:
            for memory_id, metadata in items:
                row = conn.execute("SELECT labels, session_key FROM memories WHERE id = ?", (memory_id,)).fetchone()
                if row is None:
                    continue
                level, session_key, is_raw = derived_columns(loads_list(row["labels"]), metadata)
                changed += conn.execute(
                    "UPDATE memories SET metadata = ?, level = ?, session_key = ?, is_raw = ?, updated_at = ? "
                    "WHERE id = ?",
                    (dumps(metadata), level, session_key or row["session_key"], int(is_raw), now, memory_id),
                ).rowcount
        return changed

    # digests ------------------------------------------------------------------
    @staticmethod
    def _row_digest(row: sqlite3.Row) -> SessionDigest:
        return SessionDigest(
            id=row["id"], namespace_id=row["namespace_id"], session_key=row["session_key"],
            digest_kind=row["digest_kind"], memory_id=row["memory_id"], start_memory_id=row["start_memory_id"],
            end_memory_id=row["end_memory_id"], token_count=row["token_count"],
            created_at=from_iso(row["created_at"]),
        )

    def upsert_digest(self, digest: SessionDigest) -> SessionDigest:
        now = to_iso(digest.created_at or utcnow())
        with self.write() as conn:
            conn.execute(
                "INSERT INTO session_digests(namespace_id, session_key, digest_kind, memory_id, start_memory_id, "
                "end_memory_id, token_count, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT(namespace_id, session_key, digest_kind, end_memory_id) DO UPDATE SET "
                "memory_id = excluded.memory_id, token_count = excluded.token_count",
                (digest.namespace_id, digest.session_key, digest.digest_kind, digest.memory_id,
                 digest.start_memory_id, digest.end_memory_id, digest.token_count, now),
            )
            row = conn.execute(
                "SELECT * FROM session_digests WHERE namespace_id = ? AND session_key = ? AND digest_kind = ? "
                "AND end_memory_id IS ?",
                (digest.namespace_id, digest.session_key, digest.digest_kind, digest.end_memory_id),
            ).fetchone()
        return self._row_digest(row)

    def latest_digest(
        self, namespace_id: int, kind: str, session_key: str | None = None
    ) -> SessionDigest | None:
        sql = "SELECT * FROM session_digests WHERE namespace_id = ? AND digest_kind = ?"
        params: list[Any] = [namespace_id, kind]
        if session_key is not None:
            sql += " AND session_key = ?"
            params.append(session_key)
        sql += " ORDER BY coalesce(end_memory_id, 0) DESC, id DESC LIMIT 1"
        with self._errors():
            row = self.conn.execute(sql, params).fetchone()
        return self._row_digest(row) if row else None

    def list_digests(
        self, namespace_id: int | None = None, session_key: str | None = None, limit: int = 50
    ) -> list[SessionDigest]:
        where: list[str] = []
        params: list[Any] = []
        if namespace_id is not None:
            where.append("namespace_id = ?")
            params.append(namespace_id)
        if session_key is not None:
            where.append("session_key = ?")
            params.append(session_key)
        sql = "SELECT * FROM session_digests" + (" WHERE " + " AND ".join(where) if where else "")
        sql += " ORDER BY id DESC LIMIT ?"
        with self._errors():
            rows = self.conn.execute(sql, [*params, limit]).fetchall()
        return [self._row_digest(r) for r in rows]

    def prune_digests(self, namespace_id: int, session_key: str, kind: str, keep_id: int) -> int:
        with self.write() as conn:
            return conn.execute(
                "DELETE FROM session_digests WHERE namespace_id = ? AND session_key = ? AND digest_kind = ? "
                "AND id != ?",
                (namespace_id, session_key, kind, keep_id),
            ).rowcount

    # metrics ------------------------------------------------------------------
    def record_metrics(self, samples: Sequence[tuple[str, float, dict[str, Any]]]) -> None:
        if not samples:
            return
        now = to_iso(utcnow())
        with self.write() as conn:
            conn.executemany(
                "INSERT INTO system_metrics(metric_name, metric_value, labels, recorded_at) VALUES (?, ?, ?, ?)",
                [(name, float(value), dumps(labels), now) for name, value, labels in samples],
            )
            # Metrics never grow without bound: keep 30 days and at most METRICS_MAX_ROWS rows.
            last = int(conn.execute("SELECT max(id) FROM system_metrics").fetchone()[0] or 0)
            if last % 100 < len(samples):
                cutoff = to_iso(utcnow() - timedelta(days=METRICS_KEEP_DAYS))
                conn.execute("DELETE FROM system_metrics WHERE recorded_at < ? OR id <= ?",
                             (cutoff, last - METRICS_MAX_ROWS))

    def latest_metrics(self, prefix: str = "", limit: int = 100) -> list[tuple[str, float, dict[str, Any], datetime]]:
        with self._errors():
            rows = self.conn.execute(
                "SELECT metric_name, metric_value, labels, recorded_at FROM system_metrics "
                "WHERE metric_name LIKE ? ORDER BY id DESC LIMIT ?",
                (prefix + "%", limit),
            ).fetchall()
        out = []
        for r in rows:
            ts = from_iso(r[3])
            if ts is None:
                raise StorageError("a metric row has an unreadable timestamp")
            out.append((r[0], r[1], loads_obj(r[2]), ts))
        return out
