"""The leased job queue on SQLite (upstream reference 3.2, jobs).

Claims run inside BEGIN IMMEDIATE, so two processes can never lease the same
job; a lease that expires goes back to whoever claims next.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager
from datetime import datetime, timedelta
from typing import Any

from nexus_memory.domain.enums import JobStatus
from nexus_memory.domain.models import Job
from nexus_memory.domain.timeutil import from_iso, to_iso, utcnow
from nexus_memory.errors import Conflict, NotFound
from nexus_memory.storage.base import MAX_JOB_ATTEMPTS
from nexus_memory.storage.common import dumps, loads_obj


def job_dedup_key(namespace_id: int, job_type: str, payload: dict[str, Any], perspective: dict[str, Any] | None) -> str:
    text = f"{namespace_id}|{job_type}|{dumps(_sorted(payload))}|{dumps(_sorted(perspective))}"
    import hashlib

    return hashlib.sha1(text.encode()).hexdigest()


def _sorted(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _sorted(value[k]) for k in sorted(value)}
    if isinstance(value, list):
        return [_sorted(v) for v in value]
    return value


def row_to_job(row: sqlite3.Row | Any) -> Job:
    return Job(
        id=row["id"], namespace_id=row["namespace_id"], job_type=row["job_type"],
        status=JobStatus(row["status"]), priority=row["priority"], payload=loads_obj(row["payload_json"]),
        perspective=loads_obj(row["perspective_json"]) if row["perspective_json"] else None,
        lease_owner=row["lease_owner"], claim_token=row["claim_token"],
        lease_expires_at=from_iso(row["lease_expires_at"]), attempts=row["attempts"],
        last_error=row["last_error"], created_at=from_iso(row["created_at"]),
        updated_at=from_iso(row["updated_at"]),
    )


class SQLiteJobsMixin:
    """Mixed into SQLiteStore; relies on its `write()` and `conn`."""

    @property
    def conn(self) -> sqlite3.Connection:  # pragma: no cover - provided by the store
        raise NotImplementedError

    def write(self) -> AbstractContextManager[sqlite3.Connection]:  # pragma: no cover - provided by the store
        raise NotImplementedError

    def _errors(self) -> AbstractContextManager[None]:  # pragma: no cover - provided by the store
        raise NotImplementedError

    def enqueue_job(
        self,
        namespace_id: int,
        job_type: str,
        payload: dict[str, Any],
        *,
        perspective: dict[str, Any] | None = None,
        priority: int = 100,
        if_absent: bool = True,
    ) -> int | None:
        key = job_dedup_key(namespace_id, job_type, payload, perspective)
        now = to_iso(utcnow())
        with self.write() as conn:
            if if_absent and conn.execute(
                "SELECT 1 FROM memory_jobs WHERE dedup_key = ? AND status IN ('pending', 'running') LIMIT 1", (key,)
            ).fetchone():
                return None
            cur = conn.execute(
                "INSERT INTO memory_jobs(namespace_id, job_type, status, priority, perspective_json, payload_json, "
                "dedup_key, created_at, updated_at) VALUES (?, ?, 'pending', ?, ?, ?, ?, ?, ?)",
                (namespace_id, job_type, priority, dumps(perspective) if perspective is not None else None,
                 dumps(payload), key, now, now),
            )
            return int(cur.lastrowid or 0)

    def claim_jobs(
        self,
        owner: str,
        *,
        namespace_id: int | None = None,
        job_type: str | None = None,
        ttl_secs: int = 120,
        limit: int = 8,
        now: datetime | None = None,
    ) -> list[Job]:
        moment = now or utcnow()
        now_s = to_iso(moment)
        expires = to_iso(moment + timedelta(seconds=ttl_secs))
        token = f"{owner}-{time.time_ns()}-{os.getpid()}"
        where = ["(status = 'pending' OR (status = 'running' AND lease_expires_at < ?))"]
        params: list[Any] = [now_s]
        if namespace_id is not None:
            where.append("namespace_id = ?")
            params.append(namespace_id)
        if job_type is not None:
            where.append("job_type = ?")
            params.append(job_type)
        with self.write() as conn:
            ids = [r[0] for r in conn.execute(
                f"SELECT id FROM memory_jobs WHERE {' AND '.join(where)} "
                "ORDER BY priority DESC, created_at ASC, id ASC LIMIT ?",
                [*params, int(limit)],
            )]
            if not ids:
                return []
            marks = ",".join("?" * len(ids))
            conn.execute(
                f"UPDATE memory_jobs SET status = 'running', lease_owner = ?, claim_token = ?, "
                f"lease_expires_at = ?, attempts = attempts + 1, updated_at = ? WHERE id IN ({marks})",
                [owner, token, expires, now_s, *ids],
            )
            rows = conn.execute(
                f"SELECT * FROM memory_jobs WHERE id IN ({marks}) ORDER BY priority DESC, created_at ASC, id ASC",
                ids,
            ).fetchall()
        return [row_to_job(r) for r in rows]

    def _owned(self, conn: sqlite3.Connection, job_id: int, owner: str, token: str) -> sqlite3.Row:
        row = conn.execute("SELECT * FROM memory_jobs WHERE id = ?", (job_id,)).fetchone()
        if row is None:
            raise NotFound(f"job {job_id} does not exist", hint="list jobs with `nexus jobs list`")
        if row["status"] != "running" or row["lease_owner"] != owner or row["claim_token"] != token:
            raise Conflict(f"lost lease ownership of job {job_id}", hint="another worker reclaimed it; skip it")
        return row

    def complete_job(self, job_id: int, owner: str, token: str) -> None:
        with self.write() as conn:
            self._owned(conn, job_id, owner, token)
            conn.execute(
                "UPDATE memory_jobs SET status = 'completed', lease_owner = NULL, claim_token = NULL, "
                "lease_expires_at = NULL, last_error = NULL, updated_at = ? WHERE id = ?",
                (to_iso(utcnow()), job_id),
            )

    def fail_job(self, job_id: int, owner: str, token: str, error: str) -> Job:
        with self.write() as conn:
            row = self._owned(conn, job_id, owner, token)
            status = "failed" if row["attempts"] >= MAX_JOB_ATTEMPTS else "pending"
            conn.execute(
                "UPDATE memory_jobs SET status = ?, lease_owner = NULL, claim_token = NULL, lease_expires_at = NULL, "
                "last_error = ?, updated_at = ? WHERE id = ?",
                (status, error[:2000], to_iso(utcnow()), job_id),
            )
            return row_to_job(conn.execute("SELECT * FROM memory_jobs WHERE id = ?", (job_id,)).fetchone())

    def retry_job(self, job_id: int) -> Job:
        with self.write() as conn:
            row = conn.execute("SELECT * FROM memory_jobs WHERE id = ?", (job_id,)).fetchone()
            if row is None:
                raise NotFound(f"job {job_id} does not exist", hint="list jobs with `nexus jobs list`")
            if row["status"] != "failed":
                raise Conflict(f"job {job_id} is {row['status']}, not failed", hint="only failed jobs can be retried")
            conn.execute(
                "UPDATE memory_jobs SET status = 'pending', attempts = 0, last_error = NULL, updated_at = ? "
                "WHERE id = ?",
                (to_iso(utcnow()), job_id),
            )
            return row_to_job(conn.execute("SELECT * FROM memory_jobs WHERE id = ?", (job_id,)).fetchone())

    def list_jobs(
        self,
        *,
        status: str | None = None,
        job_type: str | None = None,
        namespace_id: int | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> list[Job]:
        where: list[str] = []
        params: list[Any] = []
        for column, value in (("status", status), ("job_type", job_type), ("namespace_id", namespace_id)):
            if value is not None:
                where.append(f"{column} = ?")
                params.append(value)
        sql = "SELECT * FROM memory_jobs" + (" WHERE " + " AND ".join(where) if where else "")
        sql += " ORDER BY id DESC LIMIT ? OFFSET ?"
        with self._errors():
            rows = self.conn.execute(sql, [*params, limit, offset]).fetchall()
        return [row_to_job(r) for r in rows]

    def count_jobs_by_status(self, namespace_id: int | None = None) -> dict[str, int]:
        sql = "SELECT status, count(*) FROM memory_jobs"
        params: list[Any] = []
        if namespace_id is not None:
            sql += " WHERE namespace_id = ?"
            params.append(namespace_id)
        with self._errors():
            rows = self.conn.execute(sql + " GROUP BY status", params).fetchall()
        counts = {s.value: 0 for s in JobStatus}
        counts.update({r[0]: r[1] for r in rows})
        return counts

    def prune_jobs(self, older_than: datetime) -> int:
        with self.write() as conn:
            return conn.execute(
                "DELETE FROM memory_jobs WHERE status = 'completed' AND updated_at < ?", (to_iso(older_than),)
            ).rowcount

    def iter_jobs(self) -> Iterator[Job]:  # used by export
        with self._errors():
            for row in self.conn.execute("SELECT * FROM memory_jobs ORDER BY id"):
                yield row_to_job(row)
