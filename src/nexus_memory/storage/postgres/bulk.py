"""Keyset pages over every table (the optional BulkReader port) on PostgreSQL."""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Any

import psycopg

from nexus_memory.domain.models import Evidence, Memory, MemoryFilter, MemoryRelation, SessionDigest
from nexus_memory.storage.postgres.queries import (
    FROM,
    MEMORY_COLUMNS,
    filter_sql,
    row_to_digest,
    row_to_memory,
    row_to_relation,
    utc,
)

Conn = psycopg.Connection[Any]


class PostgresBulkMixin:
    """Mixed into PostgresStore; relies on its `read()`."""

    def read(self) -> AbstractContextManager[Conn]:  # pragma: no cover - provided by the store
        raise NotImplementedError

    def _page(self, table: str, after_id: int, limit: int) -> list[Any]:
        with self.read() as conn:
            return conn.execute(
                f"SELECT * FROM {table} WHERE id > %s ORDER BY id LIMIT %s", (int(after_id), int(limit))
            ).fetchall()

    def memories_page(self, flt: MemoryFilter, *, after_id: int = 0, limit: int = 500) -> list[Memory]:
        where, params = filter_sql(flt)
        with self.read() as conn:
            rows = conn.execute(
                f"SELECT {MEMORY_COLUMNS} {FROM} WHERE m.id > %s AND {where} ORDER BY m.id LIMIT %s",
                [int(after_id), *params, int(limit)],
            ).fetchall()
        return [row_to_memory(r) for r in rows]

    def relations_page(self, *, after_id: int = 0, limit: int = 1000) -> list[MemoryRelation]:
        return [row_to_relation(r) for r in self._page("memory_relations", after_id, limit)]

    def evidence_page(self, *, after_id: int = 0, limit: int = 1000) -> list[Evidence]:
        return [
            Evidence(id=int(r["id"]), derived_memory_id=int(r["derived_memory_id"]),
                     source_memory_id=int(r["source_memory_id"]), evidence_role=r["evidence_role"],
                     created_at=utc(r["created_at"]))
            for r in self._page("memory_evidence", after_id, limit)
        ]

    def digests_page(self, *, after_id: int = 0, limit: int = 1000) -> list[SessionDigest]:
        return [row_to_digest(r) for r in self._page("session_digests", after_id, limit)]
