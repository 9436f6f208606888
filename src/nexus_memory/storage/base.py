"""The storage ports: a narrow protocol that every backend implements.

Domain values go in and come out; no SQL or driver type crosses this line.
Optional abilities (vectors) are separate protocols so a backend can lack them.
One behavioural contract suite (`tests/storage/contract.py`) runs against every
backend.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from nexus_memory.domain.costs import Injection
from nexus_memory.domain.models import (
    AgentNamespace,
    Memory,
    MemoryFilter,
    Neighbourhood,
    NewMemory,
    StoreOutcome,
    TextHit,
)

if TYPE_CHECKING:  # built on first use (domain/records.py)
    from nexus_memory.domain.records import Evidence, Job, MemoryPatch, MemoryRelation, NamespaceStats, SessionDigest

MAX_JOB_ATTEMPTS = 5


@runtime_checkable
class MemoryStore(Protocol):
    """Memories, namespaces, lineage, digests and metrics."""

    backend: str

    def close(self) -> None: ...

    # namespaces -------------------------------------------------------------
    def ensure_namespace(self, name: str, agent_type: str | None = None) -> AgentNamespace:
        """Get or create, race-free; `name` must already be canonical."""
        ...

    def get_namespace(self, name: str) -> AgentNamespace | None: ...

    def get_namespace_by_id(self, namespace_id: int) -> AgentNamespace | None: ...

    def list_namespaces(self) -> list[AgentNamespace]: ...

    # memories ---------------------------------------------------------------
    def store(self, new: NewMemory) -> StoreOutcome:
        """Insert, or merge into the active memory with the same trimmed, case-folded
        content in the same namespace (labels and session keys unioned, access +1)."""
        ...

    def store_many(self, items: Sequence[NewMemory]) -> list[StoreOutcome]:
        """Like `store` for each item, in one transaction."""
        ...

    def store_with_lineage(
        self, new: NewMemory, source_ids: Sequence[int], role: str, *, archive_sources: bool = False
    ) -> StoreOutcome:
        """Store and link evidence rows in one transaction; optionally archive the sources."""
        ...

    def get(self, memory_id: int) -> Memory | None: ...

    def get_many(self, ids: Sequence[int]) -> list[Memory]:
        """In the order of `ids`, skipping ids that do not exist."""
        ...

    def neighbourhoods(self, ids: Sequence[int]) -> dict[int, Neighbourhood]:
        """Agent, session key, observer and subject of existing ids, without loading the
        memories (hybrid ranking reads these for every candidate)."""
        ...

    def update(self, memory_id: int, patch: MemoryPatch) -> Memory:
        """Raise NotFound for a missing id."""
        ...

    def delete(self, memory_id: int) -> bool:
        """Physical delete; lineage, relations, digests and vectors go with it."""
        ...

    def list_memories(
        self, flt: MemoryFilter, *, limit: int = 50, offset: int = 0, order: str = "newest"
    ) -> list[Memory]:
        """`order`: newest | oldest | updated | reinforced | contradicted."""
        ...

    def count(self, flt: MemoryFilter) -> int: ...

    def text_search(self, query: str, flt: MemoryFilter, *, limit: int = 10) -> list[TextHit]:
        """BM25 full-text search; higher score is better."""
        ...

    def term_frequencies(self, terms: Sequence[str], *, cap: int = 2000) -> tuple[int, dict[str, int]]:
        """(about how many memories there are, in how many each term occurs, counted up to `cap`):
        the rarity weights of per-prompt recall (domain/recall.py)."""
        ...

    def touch(self, ids: Iterable[int]) -> None:
        """access_count + 1 and last_accessed = now."""
        ...

    def stats(self, agents: Sequence[str] | None = None) -> list[NamespaceStats]: ...

    def daily_counts(self, agents: Sequence[str] | None = None, days: int = 30) -> dict[str, int]: ...

    # relations and lineage ---------------------------------------------------
    def add_relation(self, relation: MemoryRelation) -> MemoryRelation: ...

    def relations_for(self, memory_id: int) -> list[MemoryRelation]: ...

    def add_evidence(self, items: Sequence[Evidence]) -> int: ...

    def lineage(self, memory_id: int) -> list[Evidence]:
        """Rows where the memory is the derived or the source side."""
        ...

    def lineage_batch(self, memory_ids: Sequence[int], roles: Sequence[str] | None = None) -> list[Evidence]:
        """Evidence rows whose source or derived side is one of `memory_ids` (optionally only `roles`)."""
        ...

    def update_metadata_many(self, items: Sequence[tuple[int, dict[str, Any]]]) -> int:
        """Replace the metadata of several memories in one transaction (derived columns follow)."""
        ...

    # digests ------------------------------------------------------------------
    def upsert_digest(self, digest: SessionDigest) -> SessionDigest: ...

    def latest_digest(
        self, namespace_id: int, kind: str, session_key: str | None = None
    ) -> SessionDigest | None: ...

    def list_digests(
        self, namespace_id: int | None = None, session_key: str | None = None, limit: int = 50
    ) -> list[SessionDigest]: ...

    def prune_digests(self, namespace_id: int, session_key: str, kind: str, keep_id: int) -> int:
        """Delete the other digest rows of this session and kind; the number deleted."""
        ...

    # metrics ------------------------------------------------------------------
    def record_metrics(self, samples: Sequence[tuple[str, float, dict[str, Any]]]) -> None: ...

    def latest_metrics(
        self, prefix: str = "", limit: int = 100
    ) -> list[tuple[str, float, dict[str, Any], datetime]]:
        """(name, value, labels, recorded_at) of names starting with `prefix`, newest first."""
        ...

    # injections (what memory costs, issue 16) -----------------------------------
    def record_injection(self, inj: Injection) -> int:
        """Write down one injection; its id. Rows past `domain.costs.KEEP_DAYS` are dropped now and then."""
        ...

    def injected_tokens(self, agent: str, day: str) -> int:
        """Tokens injected for `agent` on `day`: one indexed sum (the hooks' cap check)."""
        ...

    def injection_days(self, since_day: str, agent: str | None = None) -> list[dict[str, Any]]:
        """Per (day, agent, channel) from `since_day` on: tokens, injections, capped."""
        ...

    def injection_sessions(self, since_day: str, agent: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
        """Per (agent, session), newest first: tokens, the budgets offered, injections, capped."""
        ...

    def injections(self, *, session_key: str | None = None, agent: str | None = None,
                   limit: int = 200) -> list[Injection]:
        """The injections (ids and reasons), oldest first: one session's, or the latest `limit`."""
        ...


@runtime_checkable
class JobStore(Protocol):
    """The leased job queue (upstream reference 3.2, jobs)."""

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
        ...

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
        ...

    def complete_job(self, job_id: int, owner: str, token: str) -> None:
        """Raise Conflict ("lost lease ownership") when the lease is not ours."""
        ...

    def fail_job(self, job_id: int, owner: str, token: str, error: str) -> Job:
        """Back to pending until MAX_JOB_ATTEMPTS, then failed for good."""
        ...

    def retry_job(self, job_id: int) -> Job:
        """A failed job goes back to pending with its attempts reset."""
        ...

    def list_jobs(
        self,
        *,
        status: str | None = None,
        job_type: str | None = None,
        namespace_id: int | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> list[Job]: ...

    def count_jobs_by_status(self, namespace_id: int | None = None) -> dict[str, int]: ...

    def prune_jobs(self, older_than: datetime) -> int:
        """Delete completed jobs last updated before `older_than` (failed ones stay until retried)."""
        ...


@runtime_checkable
class VectorIndex(Protocol):
    """Optional ability: stored embedding vectors and exact/approximate KNN over them.

    Vectors are stored per (memory, model, kind); `kind` names which text was embedded
    (e.g. "content", or "context" for content plus its retrieval context). Search never
    mixes models: it only looks at vectors of the model it is given. A memory's score
    is its best cosine similarity over its kinds.

    Contract details (pinned by tests/storage/vector_contract.py):
    - vectors are stored L2-normalised, so scores are cosines whatever the input length;
    - one model id has one dimension: a vector of another size is InvalidInput;
    - deleting a memory deletes its vectors; changing its content or context deletes
      them too (they are stale), so it shows up in `memories_without_vectors` again;
    - rows for memories that no longer exist are skipped, not an error;
    - `upsert_vectors` records the model in the memory's `embedding_model` column.
    """

    def upsert_vectors(self, model: str, rows: Sequence[tuple[int, str, Sequence[float]]]) -> int:
        """(memory_id, kind, vector) rows; replaces existing rows of the same key.

        Returns how many rows were written."""
        ...

    def delete_vectors(self, *, model: str | None = None, memory_ids: Sequence[int] | None = None) -> int: ...

    def vector_search(
        self, model: str, query: Sequence[float], flt: MemoryFilter, *, limit: int = 10
    ) -> list[tuple[int, float]]:
        """(memory id, cosine similarity) best first, filters applied."""
        ...

    def vector_counts(self) -> dict[str, int]:
        """Model id -> number of memories that have at least one vector of that model."""
        ...

    def memories_without_vectors(self, model: str, *, after_id: int = 0, limit: int = 256) -> list[Memory]:
        """Active memories lacking a vector of `model`, id ascending (for resumable backfill)."""
        ...


@runtime_checkable
class BulkReader(Protocol):
    """Optional ability: keyset pages over everything, for export and backend migration.

    Pages are id-ascending and start after `after_id`, so a long read never repeats
    or skips a row and needs no OFFSET.
    """

    def memories_page(self, flt: MemoryFilter, *, after_id: int = 0, limit: int = 500) -> list[Memory]: ...

    def relations_page(self, *, after_id: int = 0, limit: int = 1000) -> list[MemoryRelation]: ...

    def evidence_page(self, *, after_id: int = 0, limit: int = 1000) -> list[Evidence]: ...

    def digests_page(self, *, after_id: int = 0, limit: int = 1000) -> list[SessionDigest]: ...

    def vectors_of(self, memory_ids: Sequence[int]) -> dict[int, list[tuple[str, str, list[float]]]]:
        """memory id -> (model, kind, vector) rows (empty without a vector table)."""
        ...


class Store(MemoryStore, JobStore, Protocol):
    """What the composition root hands the services: both ports in one object."""
