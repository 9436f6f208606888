"""The leased job queue (upstream reference 3.2, jobs) in SQL shared by both backends.

All of it but the one statement sequence of a claim: that is where the two databases
really differ (BEGIN IMMEDIATE on SQLite, FOR UPDATE SKIP LOCKED on PostgreSQL), so each
backend gives its own `_claim`.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from nexus_memory.domain.enums import JobStatus
from nexus_memory.domain.timeutil import utcnow
from nexus_memory.errors import Conflict, NotFound
from nexus_memory.storage.base import MAX_JOB_ATTEMPTS
from nexus_memory.storage.common import dumps, sha1_hex
from nexus_memory.storage.sql.dialect import SQLBackend, and_where, where_equal
from nexus_memory.storage.sql.queries import row_to_job

if TYPE_CHECKING:  # built on first use (domain/records.py)
    from nexus_memory.domain.records import Job

#: The order in which pending jobs are claimed.
CLAIM_ORDER = "priority DESC, created_at ASC, id ASC"
#: Claimable: pending, or running with a lease that expired before the one parameter.
CLAIMABLE = "(status = 'pending' OR (status = 'running' AND lease_expires_at < ?))"
#: What a claim sets: owner, token, lease expiry and update time, in that order.
LEASE = ("status = 'running', lease_owner = ?, claim_token = ?, lease_expires_at = ?, attempts = attempts + 1, "
         "updated_at = ?")


def job_dedup_key(namespace_id: int, job_type: str, payload: dict[str, Any], perspective: dict[str, Any] | None) -> str:
    text = f"{namespace_id}|{job_type}|{dumps(_sorted(payload))}|{dumps(_sorted(perspective))}"
    return sha1_hex(text)  # the built-in SHA-1: the prompt hook enqueues a job and need not load OpenSSL


def _sorted(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _sorted(value[k]) for k in sorted(value)}
    if isinstance(value, list):
        return [_sorted(v) for v in value]
    return value


class SQLJobsMixin(SQLBackend):
    """Mixed into SQLStore."""

    def _claim(self, conn: Any, lease: Sequence[Any], where: str, params: Sequence[Any], limit: int) -> list[Any]:
        """Inside a write transaction: lease (set LEASE with `lease`) up to `limit` jobs
        matching `where`/`params` in CLAIM_ORDER, no job twice across processes; the rows."""
        raise NotImplementedError  # pragma: no cover - provided by the backend

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
        """Lease pending jobs, or running jobs whose lease expired; priority desc, oldest first."""
        d = self.dialect
        moment = now or utcnow()
        token = f"{owner}-{time.time_ns()}-{os.getpid()}"  # no other claim, here or elsewhere, holds it
        lease = (owner, token, d.time(moment + timedelta(seconds=ttl_secs)), d.time(moment))
        where, params = where_equal(("namespace_id", namespace_id), ("job_type", job_type))
        with self.write() as conn:
            rows = self._claim(conn, lease, " AND ".join([CLAIMABLE, *where]), [d.time(moment), *params], int(limit))
        jobs = [row_to_job(r, d) for r in rows]
        jobs.sort(key=lambda j: (-j.priority, j.created_at or moment, j.id))
        return jobs

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
        """The new job id, or None when an identical pending/running job exists."""
        d = self.dialect
        key = job_dedup_key(namespace_id, job_type, payload, perspective)
        now = d.time(utcnow())
        with self.write() as conn:
            if if_absent:
                if d.advisory_lock:
                    d.execute(conn, d.advisory_lock, (key,))
                if d.execute(conn, "SELECT 1 AS found FROM memory_jobs WHERE dedup_key = ? "
                                   "AND status IN ('pending', 'running') LIMIT 1", (key,)).fetchone():
                    return None
            return d.insert_id(
                conn,
                "INSERT INTO memory_jobs(namespace_id, job_type, status, priority, perspective_json, payload_json, "
                "dedup_key, created_at, updated_at) VALUES (?, ?, 'pending', ?, ?, ?, ?, ?, ?)",
                (namespace_id, job_type, priority, d.json(perspective) if perspective is not None else None,
                 d.json(payload), key, now, now),
            )

    def _owned(self, conn: Any, job_id: int, owner: str, token: str) -> Any:
        row = self.dialect.execute(conn, f"SELECT * FROM memory_jobs WHERE id = ?{self.dialect.for_update}",
                                   (job_id,)).fetchone()
        if row is None:
            raise NotFound(f"job {job_id} does not exist", hint="list jobs with `nexus jobs list`")
        if row["status"] != "running" or row["lease_owner"] != owner or row["claim_token"] != token:
            raise Conflict(f"lost lease ownership of job {job_id}", hint="another worker reclaimed it; skip it")
        return row

    def complete_job(self, job_id: int, owner: str, token: str) -> None:
        """Raise Conflict ("lost lease ownership") when the lease is not ours."""
        d = self.dialect
        with self.write() as conn:
            self._owned(conn, job_id, owner, token)
            d.execute(conn, "UPDATE memory_jobs SET status = 'completed', lease_owner = NULL, claim_token = NULL, "
                            "lease_expires_at = NULL, last_error = NULL, updated_at = ? WHERE id = ?",
                      (d.time(utcnow()), job_id))

    def fail_job(self, job_id: int, owner: str, token: str, error: str) -> Job:
        """Back to pending until MAX_JOB_ATTEMPTS, then failed for good."""
        d = self.dialect
        with self.write() as conn:
            row = self._owned(conn, job_id, owner, token)
            status = "failed" if row["attempts"] >= MAX_JOB_ATTEMPTS else "pending"
            updated = d.write_and_read(
                conn, "UPDATE memory_jobs SET status = ?, lease_owner = NULL, claim_token = NULL, "
                "lease_expires_at = NULL, last_error = ?, updated_at = ? WHERE id = ?",
                (status, error[:2000], d.time(utcnow()), job_id),
                "SELECT * FROM memory_jobs WHERE id = ?", (job_id,))
        return row_to_job(updated, d)

    def retry_job(self, job_id: int) -> Job:
        """A failed job goes back to pending with its attempts reset."""
        d = self.dialect
        with self.write() as conn:
            row = d.execute(conn, f"SELECT status FROM memory_jobs WHERE id = ?{d.for_update}", (job_id,)).fetchone()
            if row is None:
                raise NotFound(f"job {job_id} does not exist", hint="list jobs with `nexus jobs list`")
            if row["status"] != "failed":
                raise Conflict(f"job {job_id} is {row['status']}, not failed", hint="only failed jobs can be retried")
            updated = d.write_and_read(
                conn, "UPDATE memory_jobs SET status = 'pending', attempts = 0, last_error = NULL, updated_at = ? "
                "WHERE id = ?", (d.time(utcnow()), job_id),
                "SELECT * FROM memory_jobs WHERE id = ?", (job_id,))
        return row_to_job(updated, d)

    def list_jobs(
        self,
        *,
        status: str | None = None,
        job_type: str | None = None,
        namespace_id: int | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> list[Job]:
        where, params = where_equal(("status", status), ("job_type", job_type), ("namespace_id", namespace_id))
        rows = self._rows(f"SELECT * FROM memory_jobs{and_where(where)} ORDER BY id DESC LIMIT ? OFFSET ?",
                         [*params, limit, offset])
        return [row_to_job(r, self.dialect) for r in rows]

    def count_jobs_by_status(self, namespace_id: int | None = None) -> dict[str, int]:
        where, params = where_equal(("namespace_id", namespace_id))
        rows = self._rows(f"SELECT status, count(*) AS c FROM memory_jobs{and_where(where)} GROUP BY status", params)
        counts = {s.value: 0 for s in JobStatus}
        counts.update({r["status"]: int(r["c"]) for r in rows})
        return counts

    def prune_jobs(self, older_than: datetime) -> int:
        """Delete completed jobs last updated before `older_than` (failed ones stay until retried)."""
        return self._changed("DELETE FROM memory_jobs WHERE status = 'completed' AND updated_at < ?",
                             (self.dialect.time(older_than),))

    def iter_jobs(self) -> Iterator[Job]:  # used by export
        for row in self._rows("SELECT * FROM memory_jobs ORDER BY id"):
            yield row_to_job(row, self.dialect)
