"""Keyset pages over every table (the optional BulkReader port) on SQLite: export and migration."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from contextlib import AbstractContextManager

from nexus_memory.domain.models import Evidence, Memory, MemoryFilter, MemoryRelation, SessionDigest
from nexus_memory.domain.timeutil import from_iso
from nexus_memory.storage.common import loads_obj


class SQLiteBulkMixin:
    """Mixed into SQLiteStore; relies on its `conn`, `_errors` and row mappers."""

    @property
    def conn(self) -> sqlite3.Connection:  # pragma: no cover - provided by the store
        raise NotImplementedError

    def _errors(self) -> AbstractContextManager[None]:  # pragma: no cover - provided by the store
        raise NotImplementedError

    def memories_page(self, flt: MemoryFilter, *, after_id: int = 0, limit: int = 500) -> list[Memory]:
        from nexus_memory.storage.sqlite.store import _FROM, MEMORY_COLUMNS, filter_sql, row_to_memory

        where, params = filter_sql(flt)
        with self._errors():
            rows = self.conn.execute(
                f"SELECT {MEMORY_COLUMNS} {_FROM} WHERE m.id > ? AND {where} ORDER BY m.id LIMIT ?",
                [int(after_id), *params, int(limit)],
            ).fetchall()
        return [row_to_memory(r) for r in rows]

    def relations_page(self, *, after_id: int = 0, limit: int = 1000) -> list[MemoryRelation]:
        with self._errors():
            rows = self.conn.execute(
                "SELECT * FROM memory_relations WHERE id > ? ORDER BY id LIMIT ?", (int(after_id), int(limit))
            ).fetchall()
        return [
            MemoryRelation(
                id=r["id"], source_memory_id=r["source_memory_id"], target_memory_id=r["target_memory_id"],
                relation_type=r["relation_type"], strength=r["strength"],
                metadata=loads_obj(r["metadata"]) if r["metadata"] else None, created_at=from_iso(r["created_at"]),
            )
            for r in rows
        ]

    def evidence_page(self, *, after_id: int = 0, limit: int = 1000) -> list[Evidence]:
        with self._errors():
            rows = self.conn.execute(
                "SELECT * FROM memory_evidence WHERE id > ? ORDER BY id LIMIT ?", (int(after_id), int(limit))
            ).fetchall()
        return [
            Evidence(id=r["id"], derived_memory_id=r["derived_memory_id"], source_memory_id=r["source_memory_id"],
                     evidence_role=r["evidence_role"], created_at=from_iso(r["created_at"]))
            for r in rows
        ]

    def digests_page(self, *, after_id: int = 0, limit: int = 1000) -> list[SessionDigest]:
        with self._errors():
            rows = self.conn.execute(
                "SELECT * FROM session_digests WHERE id > ? ORDER BY id LIMIT ?", (int(after_id), int(limit))
            ).fetchall()
        return [
            SessionDigest(
                id=r["id"], namespace_id=r["namespace_id"], session_key=r["session_key"],
                digest_kind=r["digest_kind"], memory_id=r["memory_id"], start_memory_id=r["start_memory_id"],
                end_memory_id=r["end_memory_id"], token_count=r["token_count"], created_at=from_iso(r["created_at"]),
            )
            for r in rows
        ]

    def vectors_of(self, memory_ids: Sequence[int]) -> dict[int, list[tuple[str, str, list[float]]]]:
        from nexus_memory.storage.sqlite.vectors import unpack_vector

        out: dict[int, list[tuple[str, str, list[float]]]] = {}
        unique = list(dict.fromkeys(int(i) for i in memory_ids))
        with self._errors():
            for start in range(0, len(unique), 500):
                chunk = unique[start:start + 500]
                rows = self.conn.execute(
                    f"SELECT memory_id, model, kind, vector FROM memory_vectors "
                    f"WHERE memory_id IN ({','.join('?' * len(chunk))}) ORDER BY memory_id, model, kind",
                    chunk,
                ).fetchall()
                for r in rows:
                    out.setdefault(int(r[0]), []).append((r[1], r[2], unpack_vector(r[3])))
        return out
