"""The storage ports in SQL shared by both backends: `SQLStore`, base of SQLiteStore and PostgresStore.

Namespaces, memories, relations, evidence, digests, stats, metrics, the BulkReader pages,
the job queue (jobs.py) and the injection ledger (injections.py) are here, once. A backend gives it a `dialect`, `location`,
`read()` and `write()` (see `SQLBackend`), dedup on store (`_store_one`, `store_many`),
`text_search`, `_claim`, and its VectorIndex.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from nexus_memory.domain.models import AgentNamespace, Memory, MemoryFilter, Neighbourhood, NewMemory, StoreOutcome
from nexus_memory.domain.timeutil import to_iso, utcnow
from nexus_memory.errors import Conflict, NotFound, StorageError
from nexus_memory.storage.common import derived_columns, patch_columns
from nexus_memory.storage.sql.dialect import and_where, where_equal
from nexus_memory.storage.sql.injections import SQLInjectionsMixin
from nexus_memory.storage.sql.jobs import SQLJobsMixin
from nexus_memory.storage.sql.queries import (
    FROM,
    INDEXED_ORDERS,
    MEMORY_COLUMNS,
    filter_sql,
    order_sql,
    row_to_digest,
    row_to_evidence,
    row_to_memory,
    row_to_namespace,
    row_to_relation,
)

if TYPE_CHECKING:  # built on first use (domain/records.py)
    from nexus_memory.domain.records import Evidence, MemoryPatch, MemoryRelation, NamespaceStats, SessionDigest

#: Metrics never grow without bound: 30 days, and at most this many rows.
METRICS_KEEP_DAYS = 30
METRICS_MAX_ROWS = 100_000


def duplicate_content(memory_id: int) -> Conflict:
    return Conflict(
        f"another active memory in this namespace already has that content (memory {memory_id} was not changed)",
        hint="edit or forget the other memory first",
    )


class SQLStore(SQLJobsMixin, SQLInjectionsMixin):
    """The shared part of both SQL backends (see the module docstring)."""

    def _store_one(self, conn: Any, new: NewMemory, ns_cache: dict[str, int]) -> tuple[int, bool]:
        """Insert or merge one memory inside the caller's write transaction: (id, created)."""
        raise NotImplementedError  # pragma: no cover - provided by the backend

    def store_many(self, items: Sequence[NewMemory]) -> list[StoreOutcome]:
        raise NotImplementedError  # pragma: no cover - provided by the backend

    # namespaces ---------------------------------------------------------------
    def _ensure_namespace(self, conn: Any, name: str, agent_type: str | None) -> int:
        d = self.dialect
        row = d.execute(conn, "SELECT id FROM agent_namespaces WHERE name = ?", (name,)).fetchone()
        if row is None:  # another writer may insert it meanwhile: then ours is skipped
            d.execute(conn, d.insert_ignore("agent_namespaces(name, agent_type, created_at) VALUES (?, ?, ?)"),
                      (name, agent_type or name, d.time(utcnow())))
            row = d.execute(conn, "SELECT id FROM agent_namespaces WHERE name = ?", (name,)).fetchone()
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
        return row_to_namespace(self._row("SELECT * FROM agent_namespaces WHERE name = ?", (name,)), self.dialect)

    def get_namespace_by_id(self, namespace_id: int) -> AgentNamespace | None:
        return row_to_namespace(self._row("SELECT * FROM agent_namespaces WHERE id = ?", (namespace_id,)), self.dialect)

    def list_namespaces(self) -> list[AgentNamespace]:
        rows = self._rows("SELECT * FROM agent_namespaces ORDER BY name")
        return [ns for ns in (row_to_namespace(r, self.dialect) for r in rows) if ns]

    # memories -----------------------------------------------------------------
    def store(self, new: NewMemory) -> StoreOutcome:
        return self.store_many([new])[0]

    def _outcomes(self, results: list[tuple[int, bool]]) -> list[StoreOutcome]:
        memories = {m.id: m for m in self.get_many([i for i, _ in results])}
        return [StoreOutcome(memories[i], created) for i, created in results]

    def store_with_lineage(
        self, new: NewMemory, source_ids: Sequence[int], role: str, *, archive_sources: bool = False
    ) -> StoreOutcome:
        d = self.dialect
        now = utcnow()
        with self.write() as conn:
            mem_id, created = self._store_one(conn, new, {})
            sources = list(dict.fromkeys(int(s) for s in source_ids if int(s) != mem_id))
            for chunk in d.chunks(sources, reserved=3):
                where, params = d.in_list("id", chunk)
                d.execute(conn, d.insert_ignore(
                    "memory_evidence(derived_memory_id, source_memory_id, evidence_role, created_at) "
                    f"SELECT ?, id, ?, ? FROM memories WHERE {where}"), [mem_id, role, d.time(now), *params])
            if archive_sources and sources:
                stamp = {"status": "archived", "summary_memory_id": mem_id, "archived_at": to_iso(now)}
                updates = []
                for chunk in d.chunks(sources):
                    where, params = d.in_list("id", chunk)
                    for row in d.execute(conn, f"SELECT id, metadata FROM memories WHERE {where}{d.for_update}",
                                         params).fetchall():
                        meta = dict(d.json_obj(row["metadata"]), distillation=stamp)
                        updates.append((d.json(meta), d.time(now), row["id"]))
                if updates:
                    d.executemany(conn, f"UPDATE memories SET is_active = {d.never}, is_archived = {d.always}, "
                                        "metadata = ?, updated_at = ? WHERE id = ?", updates)
        memory = self.get(mem_id)
        assert memory is not None
        return StoreOutcome(memory, created)

    def get(self, memory_id: int) -> Memory | None:
        found = self.get_many([memory_id])
        return found[0] if found else None

    def get_many(self, ids: Sequence[int]) -> list[Memory]:
        """In the order of `ids`, skipping ids that do not exist."""
        if not ids:
            return []
        d = self.dialect
        unique = list(dict.fromkeys(int(i) for i in ids))
        out: dict[int, Memory] = {}
        with self.read() as conn:
            for chunk in d.chunks(unique):
                where, params = d.in_list("m.id", chunk)
                rows = d.execute(conn, f"SELECT {MEMORY_COLUMNS} {FROM} WHERE {where}", params).fetchall()
                out.update((int(r["id"]), row_to_memory(r, d)) for r in rows)
        return [out[i] for i in unique if i in out]

    def neighbourhoods(self, ids: Sequence[int]) -> dict[int, Neighbourhood]:
        """Agent, session key, observer and subject, without loading the memories (hybrid
        ranking reads these for every candidate)."""
        d = self.dialect
        unique = list(dict.fromkeys(int(i) for i in ids))
        observer, subject = d.json_text("m.metadata", "cognitive", "observer"), d.json_text("m.metadata", "cognitive",
                                                                                            "subject")
        out: dict[int, Neighbourhood] = {}
        with self.read() as conn:
            for chunk in d.chunks(unique):
                where, params = d.in_list("m.id", chunk)
                rows = d.execute(conn, f"SELECT m.id, n.name AS agent, m.session_key, {observer} AS observer, "
                                       f"{subject} AS subject {FROM} WHERE {where}", params).fetchall()
                out.update((int(r["id"]), Neighbourhood(r["agent"], r["session_key"], r["observer"], r["subject"]))
                           for r in rows)
        return out

    def update(self, memory_id: int, patch: MemoryPatch) -> Memory:
        d = self.dialect
        with self.write() as conn:
            row = d.execute(conn, f"SELECT * FROM memories WHERE id = ?{d.for_update}", (memory_id,)).fetchone()
            if row is None:
                raise NotFound(f"memory {memory_id} does not exist", hint="list ids with `nexus list`")
            sets: dict[str, Any] = {"updated_at": d.time(utcnow())}
            changes = patch_columns(d.json_list(row["labels"]), d.json_obj(row["metadata"]), row["session_key"], patch)
            for key, value in changes.items():
                sets[key] = d.json(value) if key in ("labels", "metadata") else \
                    d.boolean(value) if isinstance(value, bool) else value
            assignments = ", ".join(f"{k} = ?" for k in sets)
            with d.integrity(conn, duplicate_content(memory_id)):
                d.execute(conn, f"UPDATE memories SET {assignments} WHERE id = ?", [*sets.values(), memory_id])
        memory = self.get(memory_id)
        assert memory is not None
        return memory

    def update_metadata_many(self, items: Sequence[tuple[int, dict[str, Any]]]) -> int:
        """Replace the metadata of several memories in one transaction (derived columns follow)."""
        if not items:
            return 0
        d = self.dialect
        now = d.time(utcnow())
        changed = 0
        with self.write() as conn:
            for memory_id, metadata in items:
                row = d.execute(conn, f"SELECT labels, session_key FROM memories WHERE id = ?{d.for_update}",
                                (memory_id,)).fetchone()
                if row is None:
                    continue
                derived = derived_columns(d.json_list(row["labels"]), metadata)
                derived["session_key"] = derived["session_key"] or row["session_key"]
                values = [d.boolean(v) if isinstance(v, bool) else v for v in derived.values()]
                changed += d.execute(
                    conn, f"UPDATE memories SET metadata = ?, {', '.join(f'{k} = ?' for k in derived)}, updated_at = ? "
                    "WHERE id = ?", (d.json(metadata), *values, now, memory_id),
                ).rowcount
        return changed

    def delete(self, memory_id: int) -> bool:
        """Physical delete; lineage, relations, digests and vectors go with it."""
        return self._changed("DELETE FROM memories WHERE id = ?", (memory_id,)) > 0

    def list_memories(
        self, flt: MemoryFilter, *, limit: int = 50, offset: int = 0, order: str = "newest"
    ) -> list[Memory]:
        d = self.dialect
        where, params = filter_sql(flt, d)
        by = order_sql(order, d)
        if order in INDEXED_ORDERS:
            sql = f"SELECT {MEMORY_COLUMNS} {FROM} WHERE {where} ORDER BY {by} LIMIT ? OFFSET ?"
        else:  # a full sort: sort the ids alone, then read the page's rows (the sorter never carries metadata)
            sql = (f"SELECT {MEMORY_COLUMNS} {FROM} WHERE m.id IN (SELECT m.id {FROM} WHERE {where} ORDER BY {by} "
                   f"LIMIT ? OFFSET ?) ORDER BY {by}")
        rows = self._rows(sql, [*params, int(limit), int(offset)])
        return [row_to_memory(r, d) for r in rows]

    def count(self, flt: MemoryFilter) -> int:
        where, params = filter_sql(flt, self.dialect)
        row = self._row(f"SELECT count(*) AS n {FROM} WHERE {where}", params)
        return int(row["n"]) if row else 0

    def touch(self, ids: Iterable[int]) -> None:
        """access_count + 1 and last_accessed = now."""
        id_list = list(ids)
        if not id_list:
            return
        now = self.dialect.time(utcnow())
        with self.write() as conn:
            self.dialect.executemany(conn, "UPDATE memories SET access_count = access_count + 1, last_accessed = ? "
                                           "WHERE id = ?", [(now, i) for i in id_list])

    # relations ------------------------------------------------------------------
    def add_relation(self, relation: MemoryRelation) -> MemoryRelation:
        d = self.dialect
        key = (relation.source_memory_id, relation.target_memory_id, relation.relation_type)
        with self.write() as conn, d.integrity(conn, NotFound("a memory in that relation does not exist",
                                                               hint="check both ids")):
            row = d.write_and_read(
                conn,
                "INSERT INTO memory_relations(source_memory_id, target_memory_id, relation_type, strength, "
                "metadata, created_at) VALUES (?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (source_memory_id, target_memory_id, relation_type) DO UPDATE SET "
                "strength = excluded.strength, metadata = excluded.metadata",
                (*key, relation.strength, d.json(relation.metadata) if relation.metadata is not None else None,
                 d.time(relation.created_at or utcnow())),
                "SELECT * FROM memory_relations WHERE source_memory_id = ? AND target_memory_id = ? "
                "AND relation_type = ?",
                key,
            )
        return row_to_relation(row, d)

    def relations_for(self, memory_id: int) -> list[MemoryRelation]:
        rows = self._rows("SELECT * FROM memory_relations WHERE source_memory_id = ? OR target_memory_id = ? "
                         "ORDER BY strength DESC, id", (memory_id, memory_id))
        return [row_to_relation(r, self.dialect) for r in rows]

    # evidence -------------------------------------------------------------------
    def add_evidence(self, items: Sequence[Evidence]) -> int:
        d = self.dialect
        now = utcnow()
        added = 0
        with self.write() as conn:
            for ev in items:
                cur = d.execute(conn, d.insert_ignore(
                    "memory_evidence(derived_memory_id, source_memory_id, evidence_role, created_at) "
                    "VALUES (?, ?, ?, ?)"),
                    (ev.derived_memory_id, ev.source_memory_id, ev.evidence_role, d.time(ev.created_at or now)))
                added += max(cur.rowcount, 0)
        return added

    def lineage(self, memory_id: int) -> list[Evidence]:
        """Rows where the memory is the derived or the source side."""
        rows = self._rows("SELECT * FROM memory_evidence WHERE derived_memory_id = ? OR source_memory_id = ? "
                         "ORDER BY id", (memory_id, memory_id))
        return [row_to_evidence(r, self.dialect) for r in rows]

    def lineage_batch(self, memory_ids: Sequence[int], roles: Sequence[str] | None = None) -> list[Evidence]:
        """Evidence rows whose source or derived side is one of `memory_ids` (optionally only `roles`)."""
        d = self.dialect
        ids = list(dict.fromkeys(int(i) for i in memory_ids))
        role_sql, role_params = d.in_list("evidence_role", list(roles)) if roles else ("", [])
        found: dict[int, Evidence] = {}
        with self.read() as conn:
            for chunk in d.chunks(ids, per=2, reserved=len(role_params)):
                derived, params = d.in_list("derived_memory_id", chunk)
                source, _ = d.in_list("source_memory_id", chunk)
                rows = d.execute(conn, f"SELECT * FROM memory_evidence WHERE ({derived} OR {source})"
                                       f"{' AND ' + role_sql if role_sql else ''} ORDER BY id",
                                 [*params, *params, *role_params]).fetchall()
                found.update((int(r["id"]), row_to_evidence(r, d)) for r in rows)
        return [found[i] for i in sorted(found)]

    # digests ----------------------------------------------------------------------
    def upsert_digest(self, digest: SessionDigest) -> SessionDigest:
        d = self.dialect
        with self.write() as conn:
            row = d.write_and_read(
                conn,
                "INSERT INTO session_digests(namespace_id, session_key, digest_kind, memory_id, start_memory_id, "
                "end_memory_id, token_count, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (namespace_id, session_key, digest_kind, end_memory_id) DO UPDATE SET "
                "memory_id = excluded.memory_id, token_count = excluded.token_count",
                (digest.namespace_id, digest.session_key, digest.digest_kind, digest.memory_id,
                 digest.start_memory_id, digest.end_memory_id, digest.token_count,
                 d.time(digest.created_at or utcnow())),
                "SELECT * FROM session_digests WHERE namespace_id = ? AND session_key = ? AND digest_kind = ? "
                f"AND end_memory_id {d.same} ?",
                (digest.namespace_id, digest.session_key, digest.digest_kind, digest.end_memory_id),
            )
        return row_to_digest(row, d)

    def latest_digest(self, namespace_id: int, kind: str, session_key: str | None = None) -> SessionDigest | None:
        where, params = where_equal(("namespace_id", namespace_id), ("digest_kind", kind), ("session_key", session_key))
        row = self._row(f"SELECT * FROM session_digests{and_where(where)} "
                        "ORDER BY coalesce(end_memory_id, 0) DESC, id DESC LIMIT 1", params)
        return row_to_digest(row, self.dialect) if row else None

    def list_digests(
        self, namespace_id: int | None = None, session_key: str | None = None, limit: int = 50
    ) -> list[SessionDigest]:
        where, params = where_equal(("namespace_id", namespace_id), ("session_key", session_key))
        rows = self._rows(f"SELECT * FROM session_digests{and_where(where)} ORDER BY id DESC LIMIT ?", [*params, limit])
        return [row_to_digest(r, self.dialect) for r in rows]

    def prune_digests(self, namespace_id: int, session_key: str, kind: str, keep_id: int) -> int:
        """Delete the other digest rows of this session and kind; the number deleted."""
        return self._changed("DELETE FROM session_digests WHERE namespace_id = ? AND session_key = ? "
                             "AND digest_kind = ? AND id <> ?", (namespace_id, session_key, kind, keep_id))

    # stats ---------------------------------------------------------------------
    def stats(self, agents: Sequence[str] | None = None) -> list[NamespaceStats]:
        from nexus_memory.domain.records import NamespaceStats

        d = self.dialect
        where, params = "", list[Any]()
        if agents is not None:
            if not agents:
                return []
            clause, params = d.in_list("n.name", list(agents))
            where = "WHERE " + clause
        with self.read() as conn:
            rows = d.execute(
                conn,
                "SELECT n.id, n.name, count(m.id) AS total, "
                f"count(CASE WHEN {d.is_true('m.is_active')} THEN 1 END) AS active, "
                f"count(CASE WHEN {d.is_true('m.is_archived')} THEN 1 END) AS archived, "
                "min(m.created_at) AS oldest, max(m.created_at) AS newest "
                f"FROM agent_namespaces n LEFT JOIN memories m ON m.namespace_id = n.id {where} "
                "GROUP BY n.id ORDER BY n.name",
                params,
            ).fetchall()
            per: dict[str, dict[int, dict[str, int]]] = {}
            for column in ("category", "level"):
                counts = per.setdefault(column, {})
                for r in d.execute(conn, f"SELECT namespace_id AS ns, {column} AS k, count(*) AS c FROM memories "
                                         f"WHERE {d.is_true('is_active')} GROUP BY namespace_id, {column}").fetchall():
                    counts.setdefault(int(r["ns"]), {})[r["k"]] = int(r["c"])
        return [
            NamespaceStats(
                namespace_name=r["name"], total_memories=int(r["total"]), active_memories=int(r["active"]),
                archived_memories=int(r["archived"]), categories=per["category"].get(int(r["id"]), {}),
                levels=per["level"].get(int(r["id"]), {}),
                oldest_memory=d.time_out(r["oldest"]), newest_memory=d.time_out(r["newest"]),
            )
            for r in rows
        ]

    def daily_counts(self, agents: Sequence[str] | None = None, days: int = 30) -> dict[str, int]:
        d = self.dialect
        since = utcnow().replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=days - 1)
        params: list[Any] = [d.time(since)]
        extra = ""
        if agents is not None:
            if not agents:
                return {}
            clause, names = d.in_list("n.name", list(agents))
            extra = " AND " + clause
            params.extend(names)
        rows = self._rows(f"SELECT {d.day('m.created_at')} AS day, count(*) AS c {FROM} "
                         f"WHERE m.created_at >= ?{extra} GROUP BY day ORDER BY day", params)
        return {r["day"]: int(r["c"]) for r in rows}

    # metrics ------------------------------------------------------------------
    def record_metrics(self, samples: Sequence[tuple[str, float, dict[str, Any]]]) -> None:
        if not samples:
            return
        d = self.dialect
        now = utcnow()
        with self.write() as conn:
            d.executemany(conn, "INSERT INTO system_metrics(metric_name, metric_value, labels, recorded_at) "
                                "VALUES (?, ?, ?, ?)",
                          [(name, float(value), d.json(labels), d.time(now)) for name, value, labels in samples])
            # Every 100th row or so, drop what is past the age or the row budget.
            last = int(d.execute(conn, "SELECT max(id) AS last FROM system_metrics").fetchone()["last"] or 0)
            if last % 100 < len(samples):
                d.execute(conn, "DELETE FROM system_metrics WHERE recorded_at < ? OR id <= ?",
                          (d.time(now - timedelta(days=METRICS_KEEP_DAYS)), last - METRICS_MAX_ROWS))

    def latest_metrics(self, prefix: str = "", limit: int = 100) -> list[tuple[str, float, dict[str, Any], datetime]]:
        d = self.dialect
        match, param = d.starts_with("metric_name", prefix)
        rows = self._rows("SELECT metric_name, metric_value, labels, recorded_at FROM system_metrics "
                         f"WHERE {match} ORDER BY id DESC LIMIT ?", (param, limit))
        out = []
        for r in rows:
            ts = d.time_out(r["recorded_at"])
            if ts is None:
                raise StorageError("a metric row has an unreadable timestamp")
            out.append((r["metric_name"], r["metric_value"], d.json_obj(r["labels"]), ts))
        return out

    # keyset pages (the BulkReader port: export and backend migration) ---------------
    def memories_page(self, flt: MemoryFilter, *, after_id: int = 0, limit: int = 500) -> list[Memory]:
        where, params = filter_sql(flt, self.dialect)
        rows = self._rows(f"SELECT {MEMORY_COLUMNS} {FROM} WHERE m.id > ? AND {where} ORDER BY m.id LIMIT ?",
                         [int(after_id), *params, int(limit)])
        return [row_to_memory(r, self.dialect) for r in rows]

    def _page(self, table: str, after_id: int, limit: int) -> list[Any]:
        return self._rows(f"SELECT * FROM {table} WHERE id > ? ORDER BY id LIMIT ?", (int(after_id), int(limit)))

    def relations_page(self, *, after_id: int = 0, limit: int = 1000) -> list[MemoryRelation]:
        return [row_to_relation(r, self.dialect) for r in self._page("memory_relations", after_id, limit)]

    def evidence_page(self, *, after_id: int = 0, limit: int = 1000) -> list[Evidence]:
        return [row_to_evidence(r, self.dialect) for r in self._page("memory_evidence", after_id, limit)]

    def digests_page(self, *, after_id: int = 0, limit: int = 1000) -> list[SessionDigest]:
        return [row_to_digest(r, self.dialect) for r in self._page("session_digests", after_id, limit)]

    # vectors: what is plain SQL over memory_vectors (search and writes are each backend's) -
    def delete_vectors(self, *, model: str | None = None, memory_ids: Sequence[int] | None = None) -> int:
        d = self.dialect
        where, params = where_equal(("model", model))
        if memory_ids is None:
            return self._changed(f"DELETE FROM memory_vectors{and_where(where)}", params)
        if not memory_ids:
            return 0
        deleted = 0
        with self.write() as conn:
            for chunk in d.chunks([int(i) for i in memory_ids], reserved=len(params)):
                in_ids, id_params = d.in_list("memory_id", chunk)
                deleted += max(int(d.execute(conn, f"DELETE FROM memory_vectors{and_where([*where, in_ids])}",
                                             [*params, *id_params]).rowcount), 0)
        return deleted
