"""The leased job queue on PostgreSQL.

Claims lock candidate rows with FOR UPDATE SKIP LOCKED inside one UPDATE, so
workers on several machines never lease the same job and never wait on each
other; enqueue-if-absent serialises on a transaction-scoped advisory lock per
dedup key.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager
from datetime import datetime, timedelta
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from nexus_memory.domain.enums import JobStatus
from nexus_memory.domain.models import Job
from nexus_memory.domain.timeutil import utcnow
from nexus_memory.errors import Conflict, NotFound
from nexus_memory.storage.base import MAX_JOB_ATTEMPTS
from nexus_memory.storage.postgres.queries import utc
from nexus_memory.storage.sqlite.jobs import job_dedup_key

Conn = psycopg.Connection[Any]
_JOB_ORDER = "priority DESC, created_at ASC, id ASC"


def row_to_job(row: Mapping[str, Any]) -> Job:
    payload = row["payload_json"]
    return Job(
        id=int(row["id"]), namespace_id=int(row["namespace_id"]), job_type=row["job_type"],
        status=JobStatus(row["status"]), priority=row["priority"],
        payload=payload if isinstance(payload, dict) else {"value": payload},
        perspective=row["perspective_json"], lease_owner=row["lease_owner"], claim_token=row["claim_token"],
        lease_expires_at=utc(row["lease_expires_at"]), attempts=row["attempts"], last_error=row["last_error"],
        created_at=utc(row["created_at"]), updated_at=utc(row["updated_at"]),
    )


class PostgresJobsMixin:
    """Mixed into PostgresStore; relies on its `write()` and `read()`."""

    def write(self) -> AbstractContextManager[Conn]:  # pragma: no cover - provided by the store
        raise NotImplementedError

    def read(self) -> AbstractContextManager[Conn]:  # pragma: no cover - provided by the store
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
        now = utcnow()
        with self.write() as conn:
            if if_absent:
                conn.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", (key,))
                if conn.execute(
                    "SELECT 1 FROM memory_jobs WHERE dedup_key = %s AND status IN ('pending', 'running') LIMIT 1",
                    (key,),
                ).fetchone():
                    return None
            row = conn.execute(
                "INSERT INTO memory_jobs(namespace_id, job_type, status, priority, perspective_json, payload_json, "
                "dedup_key, created_at, updated_at) VALUES (%s, %s, 'pending', %s, %s, %s, %s, %s, %s) RETURNING id",
                (namespace_id, job_type, priority, Jsonb(perspective) if perspective is not None else None,
                 Jsonb(payload), key, now, now),
            ).fetchone()
        assert row is not None
        return int(row["id"])

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
        token = f"{owner}-{time.time_ns()}-{os.getpid()}"
        where = ["(status = 'pending' OR (status = 'running' AND lease_expires_at < %s))"]
        params: list[Any] = [moment]
        if namespace_id is not None:
            where.append("namespace_id = %s")
            params.append(namespace_id)
        if job_type is not None:
            where.append("job_type = %s")
            params.append(job_type)
        with self.write() as conn:
            rows = conn.execute(
                "UPDATE memory_jobs SET status = 'running', lease_owner = %s, claim_token = %s, "
                "lease_expires_at = %s, attempts = attempts + 1, updated_at = %s "
                f"WHERE id IN (SELECT id FROM memory_jobs WHERE {' AND '.join(where)} "
                f"ORDER BY {_JOB_ORDER} LIMIT %s FOR UPDATE SKIP LOCKED) RETURNING *",
                [owner, token, moment + timedelta(seconds=ttl_secs), moment, *params, int(limit)],
            ).fetchall()
        jobs = [row_to_job(r) for r in rows]
        jobs.sort(key=lambda j: (-j.priority, j.created_at or moment, j.id))
        return jobs

    @staticmethod
    def _owned(conn: Conn, job_id: int, owner: str, token: str) -> Mapping[str, Any]:
        row = conn.execute("SELECT * FROM memory_jobs WHERE id = %s FOR UPDATE", (job_id,)).fetchone()
        if row is None:
            raise NotFound(f"job {job_id} does not exist", hint="list jobs with `nexus jobs list`")
        if row["status"] != "running" or row["lease_owner"] != owner or row["claim_token"] != token:
            raise Conflict(f"lost lease ownership of job {job_id}", hint="another worker reclaimed it; skip it")
        return dict(row)

    def complete_job(self, job_id: int, owner: str, token: str) -> None:
        with self.write() as conn:
            self._owned(conn, job_id, owner, token)
            conn.execute(
                "UPDATE memory_jobs SET status = 'completed', lease_owner = NULL, claim_token = NULL, "
                "lease_expires_at = NULL, last_error = NULL, updated_at = %s WHERE id = %s",
                (utcnow(), job_id),
            )

    def fail_job(self, job_id: int, owner: str, token: str, error: str) -> Job:
        with self.write() as conn:
            row = self._owned(conn, job_id, owner, token)
            status = "failed" if row["attempts"] >= MAX_JOB_ATTEMPTS else "pending"
            updated = conn.execute(
                "UPDATE memory_jobs SET status = %s, lease_owner = NULL, claim_token = NULL, "
                "lease_expires_at = NULL, last_error = %s, updated_at = %s WHERE id = %s RETURNING *",
                (status, error[:2000], utcnow(), job_id),
            ).fetchone()
        assert updated is not None
        return row_to_job(updated)

    def retry_job(self, job_id: int) -> Job:
        with self.write() as conn:
            row = conn.execute("SELECT status FROM memory_jobs WHERE id = %s FOR UPDATE", (job_id,)).fetchone()
            if row is None:
                raise NotFound(f"job {job_id} does not exist", hint="list jobs with `nexus jobs list`")
            if row["status"] != "failed":
                raise Conflict(f"job {job_id} is {row['status']}, not failed", hint="only failed jobs can be retried")
            updated = conn.execute(
                "UPDATE memory_jobs SET status = 'pending', attempts = 0, last_error = NULL, updated_at = %s "
                "WHERE id = %s RETURNING *",
                (utcnow(), job_id),
            ).fetchone()
        assert updated is not None
        return row_to_job(updated)

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
                where.append(f"{column} = %s")
                params.append(value)
        sql = "SELECT * FROM memory_jobs" + (" WHERE " + " AND ".join(where) if where else "")
        sql += " ORDER BY id DESC LIMIT %s OFFSET %s"
        with self.read() as conn:
            rows = conn.execute(sql, [*params, limit, offset]).fetchall()
        return [row_to_job(r) for r in rows]

    def count_jobs_by_status(self, namespace_id: int | None = None) -> dict[str, int]:
        sql = "SELECT status, count(*) AS c FROM memory_jobs"
        params: list[Any] = []
        if namespace_id is not None:
            sql += " WHERE namespace_id = %s"
            params.append(namespace_id)
        with self.read() as conn:
            rows = conn.execute(sql + " GROUP BY status", params).fetchall()
        counts = {s.value: 0 for s in JobStatus}
        counts.update({r["status"]: int(r["c"]) for r in rows})
        return counts

    def prune_jobs(self, older_than: datetime) -> int:
        with self.write() as conn:
            return int(conn.execute(
                "DELETE FROM memory_jobs WHERE status = 'completed' AND updated_at < %s", (older_than,)
            ).rowcount)

    def iter_jobs(self) -> Iterator[Job]:  # used by export
        with self.read() as conn:
            rows = conn.execute("SELECT * FROM memory_jobs ORDER BY id").fetchall()
        for row in rows:
            yield row_to_job(row)
