"""The job engine (reference 5.2): drain the leased queue in bounded rounds, stage by stage.

Up to `rounds` rounds; each runs activity_distill, derive_memory, reflect_perspective,
reflect_namespace and digest_session (each only when enabled), claiming at most
`max_job_batch` jobs per type with a `lease_ttl_secs` lease. A round that makes no
progress ends the drain. A deadline (monotonic seconds) bounds the whole drain:
once it passes nothing new is claimed, and a job claimed but not run simply has
its lease expire and is picked up by the next drain.
"""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from nexus_memory.config import CognitionSettings
from nexus_memory.domain.enums import JobType
from nexus_memory.domain.models import Job
from nexus_memory.domain.timeutil import Clock, utcnow
from nexus_memory.errors import Conflict
from nexus_memory.storage.base import Store

Handler = Callable[[Job], dict[str, Any]]

STAGE_ORDER = (
    JobType.ACTIVITY_DISTILL,
    JobType.DERIVE_MEMORY,
    JobType.REFLECT_PERSPECTIVE,
    JobType.REFLECT_NAMESPACE,
    JobType.DIGEST_SESSION,
)
#: Completed jobs are kept this long for the dashboard, then pruned.
COMPLETED_JOB_RETENTION = timedelta(days=7)


@dataclass
class DrainResult:
    processed: int = 0
    failed: int = 0
    skipped: int = 0
    by_type: dict[str, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    timed_out: bool = False
    rounds: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {"processed_jobs": self.processed, "failed": self.failed, "skipped": self.skipped,
                "by_type": self.by_type, "errors": self.errors[:10], "timed_out": self.timed_out,
                "rounds": self.rounds}


def stage_enabled(cfg: CognitionSettings, job_type: JobType) -> bool:
    return {
        JobType.ACTIVITY_DISTILL: cfg.activity_distill_enabled,
        JobType.DERIVE_MEMORY: cfg.derive_enabled,
        JobType.REFLECT_PERSPECTIVE: cfg.reflect_enabled,
        JobType.REFLECT_NAMESPACE: cfg.reflect_enabled,
        JobType.DIGEST_SESSION: cfg.digest_enabled,
    }[job_type]


class JobEngine:
    def __init__(self, store: Store, handlers: dict[JobType, Handler], settings: CognitionSettings,
                 clock: Clock = utcnow) -> None:
        self.store = store
        self.handlers = handlers
        self.settings = settings
        self.clock = clock

    def drain(self, owner: str, *, namespace_id: int | None = None, rounds: int = 3, batch: int | None = None,
              deadline: float | None = None) -> DrainResult:
        result = DrainResult()
        limit = batch or self.settings.max_job_batch
        for _ in range(max(1, rounds)):
            result.rounds += 1
            before = result.processed + result.failed + result.skipped
            seen_digests: set[tuple[int, str]] = set()
            for job_type in STAGE_ORDER:
                if not stage_enabled(self.settings, job_type) or job_type not in self.handlers:
                    continue
                if deadline is not None and time.monotonic() >= deadline:
                    result.timed_out = True
                    return result
                # Under a deadline claim one at a time so nothing waits on an expired lease.
                jobs = self.store.claim_jobs(owner, namespace_id=namespace_id, job_type=job_type.value,
                                             ttl_secs=self.settings.lease_ttl_secs,
                                             limit=1 if deadline is not None else limit)
                count = 0
                while jobs:
                    for job in jobs:
                        self._run(job, owner, result, seen_digests)
                        count += 1
                    if count >= limit or (deadline is not None and time.monotonic() >= deadline):
                        break
                    jobs = (self.store.claim_jobs(owner, namespace_id=namespace_id, job_type=job_type.value,
                                                  ttl_secs=self.settings.lease_ttl_secs, limit=1)
                            if deadline is not None else [])
            if result.processed + result.failed + result.skipped == before:
                break
        return result

    def _run(self, job: Job, owner: str, result: DrainResult, seen_digests: set[tuple[int, str]]) -> None:
        token = job.claim_token or ""
        try:
            if job.job_type == JobType.DIGEST_SESSION.value:
                key = (job.namespace_id, str(job.payload.get("session_key")))
                if key in seen_digests and not job.payload.get("force"):
                    self.store.complete_job(job.id, owner, token)
                    result.skipped += 1
                    return
                seen_digests.add(key)
            handler = self.handlers[JobType(job.job_type)]
            handler(job)
            self.store.complete_job(job.id, owner, token)
            result.processed += 1
            result.by_type[job.job_type] = result.by_type.get(job.job_type, 0) + 1
        except Conflict:
            # Lost the lease: another worker owns the job now.
            result.skipped += 1
        except Exception as exc:
            detail = f"{type(exc).__name__}: {exc}"
            result.errors.append(f"job {job.id} ({job.job_type}): {detail}")
            tb = traceback.format_exc(limit=3)
            try:
                self.store.fail_job(job.id, owner, token, f"{detail}\n{tb}"[:2000])
            except Conflict:
                pass
            result.failed += 1

    def prune(self) -> int:
        return self.store.prune_jobs(self.clock() - COMPLETED_JOB_RETENTION)
