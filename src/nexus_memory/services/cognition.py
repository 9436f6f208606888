"""CognitionService: the one API every surface uses for jobs, the dream cycle, digests, lineage and recall.

Stages get their dependencies once, here; runtime start drains the queue and
session end runs the bounded dream (8 s by default).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nexus_memory.cognition.base import StageDeps, VectorSource
from nexus_memory.cognition.decay import prune_archived_raw
from nexus_memory.cognition.derive import DeriveResult, derive_memory
from nexus_memory.cognition.digest import DigestResult, digest_session
from nexus_memory.cognition.distill import DistillResult, distill_session
from nexus_memory.cognition.dream import DreamScheduleAction, DreamSignals, choose_dream_schedule
from nexus_memory.cognition.jobs import DrainResult, JobEngine
from nexus_memory.cognition.monitor import ActivityMonitor
from nexus_memory.cognition.reflect import ReflectResult, reflect
from nexus_memory.cognition.representation import (
    RepresentationBuilder,
    RepresentationRequest,
    SemanticSearch,
    WorkingRepresentation,
    filter_perspective,
)
from nexus_memory.cognition.soul import SoulResult, read_soul, rebuild_soul, soul_path
from nexus_memory.cognition.subconscious import RefreshResult, cache_status, refresh_project
from nexus_memory.config import CognitionSettings, CognitiveSystemSettings
from nexus_memory.domain.agents import canonicalize_agent_type
from nexus_memory.domain.enums import CognitiveLevel, JobStatus, JobType, RuntimeShutdownReason
from nexus_memory.domain.models import AgentNamespace, Job, Memory, MemoryFilter, PerspectiveKey
from nexus_memory.domain.timeutil import Clock, utcnow
from nexus_memory.errors import InvalidInput, NotFound
from nexus_memory.llm.gateway import LLMGateway
from nexus_memory.services.cognition_results import (
    DeepDreamResult,
    DigestView,
    DreamCycleResult,
    LatestDigests,
    Lineage,
    LineageLink,
    LLMReport,
    LLMTestResult,
    NapResult,
    SoulView,
    SubconsciousStatus,
)
from nexus_memory.storage.base import Store

if TYPE_CHECKING:
    from nexus_memory.background.cognition_thread import CognitionThread, CognitionThreadStatus


class CognitionService:
    def __init__(self, store: Store, settings: CognitionSettings, *, llm: LLMGateway | None = None,
                 clock: Clock = utcnow, vectors: VectorSource | None = None,
                 state_dir: Path | None = None, config_dir: Path | None = None, data_dir: Path | None = None,
                 system: CognitiveSystemSettings | None = None) -> None:
        self.store = store
        self.settings = settings
        self.system = system or CognitiveSystemSettings()
        self.data_dir = data_dir
        self.llm = llm
        self.clock = clock
        self.state_dir = state_dir
        self.config_dir = config_dir
        self.deps = StageDeps(store, settings, llm, clock, vectors)
        self.representations = RepresentationBuilder(store, settings, clock=clock)
        self.thread: CognitionThread | None = None
        #: Set by `nexus serve` when the cognition thread runs in the `nexus worker` child: its last reported status.
        self.thread_status_provider: Callable[[], dict[str, Any] | None] | None = None
        self.engine = JobEngine(store, {
            JobType.ACTIVITY_DISTILL: self._job_distill,
            JobType.DERIVE_MEMORY: self._job_derive,
            JobType.REFLECT_PERSPECTIVE: self._job_reflect,
            JobType.REFLECT_NAMESPACE: self._job_reflect,
            JobType.DIGEST_SESSION: self._job_digest,
        }, settings, clock)

    def set_vectors(self, vectors: VectorSource | None) -> None:
        self.deps = replace(self.deps, vectors=vectors)

    def set_semantic(self, semantic: SemanticSearch | None, mode: str = "hybrid") -> None:
        """Use hybrid/vector search for the semantic bucket (BM25 when None)."""
        self.representations = RepresentationBuilder(self.store, self.settings, clock=self.clock,
                                                     semantic=semantic, semantic_mode=mode)

    # namespaces -----------------------------------------------------------------
    def namespace(self, agent: str, *, create: bool = True) -> AgentNamespace:
        name = canonicalize_agent_type(agent)
        ns = self.store.ensure_namespace(name) if create else self.store.get_namespace(name)
        if ns is None:
            raise NotFound(f"no memories for agent '{name}'", hint="list agents with `nexus stats`")
        return ns

    def _ns_by_id(self, namespace_id: int) -> AgentNamespace:
        ns = self.store.get_namespace_by_id(namespace_id)
        if ns is None:
            raise NotFound(f"namespace {namespace_id} does not exist", hint="the job's agent was deleted")
        return ns

    # job handlers ---------------------------------------------------------------
    @staticmethod
    def _perspective(job: Job) -> PerspectiveKey | None:
        p = job.perspective or {}
        if p.get("observer") and p.get("subject"):
            return PerspectiveKey(str(p["observer"]), str(p["subject"]), p.get("session_key") or None)
        return None

    def _job_distill(self, job: Job) -> dict[str, Any]:
        key = str(job.payload.get("session_key") or "")
        if not key:
            raise InvalidInput("an activity_distill job needs payload.session_key", hint="re-enqueue it with one")
        return distill_session(self.deps, self._ns_by_id(job.namespace_id), key, job_id=job.id).to_dict()

    def _job_derive(self, job: Job) -> dict[str, Any]:
        mid = int(job.payload.get("memory_id") or 0)
        return derive_memory(self.deps, self._ns_by_id(job.namespace_id), mid,
                             perspective=self._perspective(job), job_id=job.id).to_dict()

    def _job_reflect(self, job: Job) -> dict[str, Any]:
        p = self._perspective(job)
        key = job.payload.get("session_key") or (p.session_key if p else None)
        return reflect(self.deps, self._ns_by_id(job.namespace_id), session_key=key).to_dict()

    def _job_digest(self, job: Job) -> dict[str, Any]:
        key = str(job.payload.get("session_key") or "")
        if not key:
            return {"status": "skipped", "reason": "no session key"}
        return digest_session(self.deps, self._ns_by_id(job.namespace_id), key,
                              force=bool(job.payload.get("force")),
                              reason=str(job.payload.get("reason") or "rollover"), job_id=job.id).to_dict()

    # queue ----------------------------------------------------------------------
    def enqueue(self, agent: str, job_type: JobType | str, payload: dict[str, Any], *,
                perspective: PerspectiveKey | None = None, priority: int | None = None) -> int | None:
        jt = JobType.parse(job_type)
        defaults = {JobType.ACTIVITY_DISTILL: 70, JobType.DIGEST_SESSION: 110}
        ns = self.namespace(agent)
        return self.store.enqueue_job(ns.id, jt.value, payload,
                                      perspective=perspective.to_dict() if perspective else None,
                                      priority=priority if priority is not None else defaults.get(jt, 100))

    def drain(self, owner: str, *, agent: str | None = None, timeout_secs: float | None = None,
              rounds: int = 3) -> DrainResult:
        ns_id = self.namespace(agent, create=False).id if agent else None
        deadline = time.monotonic() + timeout_secs if timeout_secs else None
        result = self.engine.drain(owner, namespace_id=ns_id, rounds=rounds, deadline=deadline)
        self.engine.prune()
        return result

    def jobs(self, *, status: str | None = None, agent: str | None = None, job_type: str | None = None,
             limit: int = 50) -> list[Job]:
        if status is not None:
            status = JobStatus.parse(status).value
        if job_type is not None:
            job_type = JobType.parse(job_type).value
        ns_id = self.namespace(agent, create=False).id if agent else None
        return self.store.list_jobs(status=status, job_type=job_type, namespace_id=ns_id, limit=limit)

    def retry(self, job_id: int | None = None, *, all_failed: bool = False) -> list[Job]:
        if job_id is not None:
            return [self.store.retry_job(job_id)]
        if not all_failed:
            raise InvalidInput("say which job to retry", hint="pass a job id, or --all-failed")
        return [self.store.retry_job(j.id) for j in self.store.list_jobs(status="failed", limit=1000)]

    def job_counts(self, agent: str | None = None) -> dict[str, int]:
        ns_id = self.namespace(agent, create=False).id if agent else None
        return self.store.count_jobs_by_status(ns_id)

    # the dream cycle --------------------------------------------------------------
    def dream_cycle(self, agent: str, session_key: str | None = None, *, reason: str | None = None,
                    timeout_secs: float | None = None, owner: str | None = None) -> DreamCycleResult:
        """Enqueue reflect (perspective or namespace) and, for a session, a forced digest; then drain."""
        t0 = time.perf_counter()
        ns = self.namespace(agent, create=False)
        if session_key:
            p = PerspectiveKey(ns.name, ns.name, session_key)
            self.store.enqueue_job(ns.id, JobType.REFLECT_PERSPECTIVE.value,
                                   {"session_key": session_key, "reason": reason or "manual_dream"},
                                   perspective=p.to_dict(), priority=100)
            self.store.enqueue_job(ns.id, JobType.DIGEST_SESSION.value,
                                   {"session_key": session_key, "reason": "dream_digest"}, priority=110)
        else:
            self.store.enqueue_job(ns.id, JobType.REFLECT_NAMESPACE.value,
                                   {"reason": reason or "namespace_dream"}, priority=100)
        t1 = time.perf_counter()
        result = self.drain(owner or f"dream-{ns.name}", agent=ns.name, timeout_secs=timeout_secs)
        t2 = time.perf_counter()
        labels = {"namespace_id": ns.id, "session_key": session_key}
        self.store.record_metrics([
            ("cognition.dream.enqueue_ms", (t1 - t0) * 1000, labels),
            ("cognition.dream.drain_ms", (t2 - t1) * 1000, labels),
            ("cognition.dream.total_ms", (t2 - t0) * 1000, labels),
        ])
        return DreamCycleResult(result, ns.name, session_key)

    # runtime callbacks ------------------------------------------------------------
    def on_runtime_start(self, agent: str, session_key: str, cwd: str | None) -> None:
        monitor = self.monitor()
        if monitor is not None:
            monitor.record_activity(self.clock())
        self.drain(f"runtime-start-{agent}-{session_key}", agent=agent,
                   timeout_secs=self.settings.session_end_dream_timeout_secs)

    def on_runtime_shutdown(self, agent: str, session_key: str, cwd: str | None,
                            reason: RuntimeShutdownReason) -> None:
        timeout = self.settings.session_end_dream_timeout_secs
        t0 = time.monotonic()
        owner = f"runtime-end-{agent}-{session_key}"
        action = self.shutdown_schedule(agent, session_key, reason)
        if action is DreamScheduleAction.IMMEDIATE_BOUNDED:
            self.dream_cycle(agent, session_key, reason="session_end_dream", timeout_secs=timeout, owner=owner)
        elif action is DreamScheduleAction.DIGEST_ONLY:
            self.enqueue(agent, JobType.DIGEST_SESSION, {"session_key": session_key, "reason": "session_end"})
            self.drain(owner, agent=agent, timeout_secs=timeout)
        elif action is DreamScheduleAction.DELAYED_ENQUEUE:
            # Left for the next drain (a later session start, `nexus dream run`, or the serve worker).
            ns = self.namespace(agent)
            self.store.enqueue_job(ns.id, JobType.REFLECT_PERSPECTIVE.value,
                                   {"session_key": session_key, "reason": f"{reason.value}_dream"},
                                   perspective=PerspectiveKey(ns.name, ns.name, session_key).to_dict())
            self.store.enqueue_job(ns.id, JobType.DIGEST_SESSION.value,
                                   {"session_key": session_key, "reason": "session_end"}, priority=110)
        # The nap: only for projects that already have a .nexus folder (we never create one uninvited).
        if self.system.enabled and self.system.nap_on_session_end and cwd and time.monotonic() - t0 < timeout:
            root = self._project_root(cwd)
            if root is not None and (root / ".nexus").is_dir():
                self.refresh_project(root, agent, session_id=session_key)

    def shutdown_schedule(self, agent: str, session_key: str, reason: RuntimeShutdownReason) -> DreamScheduleAction:
        """Upstream's adaptive schedule at shutdown, from the session's signals (reference 5.11)."""
        if not self.settings.dream_on_session_end:
            return DreamScheduleAction.DELAYED_ENQUEUE
        if not self.settings.adaptive_dream_enabled:
            return DreamScheduleAction.IMMEDIATE_BOUNDED
        ns = self.namespace(agent)
        mems = self.store.list_memories(MemoryFilter(agents=(ns.name,), session_key=session_key, include_raw=True),
                                        limit=512)
        mems = [m for m in mems if "runtime" not in m.labels]
        has_digest = self.store.latest_digest(ns.id, "short", session_key) is not None
        reason_key = "session_end" if reason is RuntimeShutdownReason.SESSION_ENDED else reason.value
        return choose_dream_schedule(DreamSignals.from_memories(mems, has_digest), reason_key)

    # direct stage calls -----------------------------------------------------------
    def reflect(self, agent: str, session_key: str | None = None, *, limit: int = 1000) -> ReflectResult:
        return reflect(self.deps, self.namespace(agent, create=False), session_key=session_key, limit=limit)

    def derive(self, memory_id: int, *, force: bool = False,
               perspective: PerspectiveKey | None = None) -> DeriveResult:
        memory = self._memory(memory_id)
        ns = self._ns_by_id(memory.namespace_id)
        return derive_memory(self.deps, ns, memory_id, force=force, perspective=perspective)

    def distill(self, agent: str, session_key: str, *, force: bool = False) -> DistillResult:
        return distill_session(self.deps, self.namespace(agent, create=False), session_key, force=force)

    def digest(self, agent: str, session_key: str, *, rebuild: bool = False) -> DigestResult:
        return digest_session(self.deps, self.namespace(agent, create=False), session_key, force=True,
                              reason="manual_rebuild" if rebuild else "manual_digest")

    def latest_digests(self, agent: str, session_key: str | None = None) -> LatestDigests:
        ns = self.namespace(agent, create=False)

        def view(kind: str) -> DigestView | None:
            row = self.store.latest_digest(ns.id, kind, session_key)
            if row is None:
                return None
            memory = self.store.get(row.memory_id)
            return DigestView(row, memory.content if memory else None)

        return LatestDigests(ns.name, session_key, view("short"), view("long"))

    def _memory(self, memory_id: int) -> Memory:
        memory = self.store.get(int(memory_id))
        if memory is None:
            raise NotFound(f"memory {memory_id} does not exist", hint="find ids with `nexus list` or `nexus search`")
        return memory

    def lineage(self, memory_id: int) -> Lineage:
        """Where a memory came from and what was made of it: evidence both ways, and relations."""
        memory = self._memory(memory_id)
        rows = self.store.lineage(memory.id)
        others = {r.source_memory_id if r.derived_memory_id == memory.id else r.derived_memory_id for r in rows}
        mems = {m.id: m for m in self.store.get_many(sorted(others))}
        sources = [LineageLink(r.evidence_role, r.source_memory_id, mems.get(r.source_memory_id))
                   for r in rows if r.derived_memory_id == memory.id]
        derived = [LineageLink(r.evidence_role, r.derived_memory_id, mems.get(r.derived_memory_id))
                   for r in rows if r.source_memory_id == memory.id]
        return Lineage(memory, sources, derived, list(self.store.relations_for(memory.id)))

    # recall -----------------------------------------------------------------------
    def represent(self, agent: str, *, query: str | None = None, observer: str | None = None,
                  subject: str | None = None, session_key: str | None = None, max_items: int | None = None,
                  include_raw: bool | None = None, include_digests: bool = True, include_recent: bool = True,
                  include_semantic: bool = True, include_derived: bool = True,
                  include_contradictions: bool = True, cross_agents: Sequence[str] = (),
                  project_root: str | tuple[str, ...] | None = None) -> WorkingRepresentation:
        """Build the working representation; every kept item says why, every dropped one why not."""
        ns = self.namespace(agent, create=False)
        m = max_items if max_items is not None else self.settings.representation_max_items
        if not 1 <= m <= 100:
            raise InvalidInput(f"max_items {m} is out of range", hint="use 1 to 100 (default 24)")
        perspective = None
        if observer or subject or session_key:
            perspective = PerspectiveKey(observer or ns.name, subject or ns.name, session_key or None)
        req = RepresentationRequest(
            query=query, perspective=perspective, max_items=m,
            include_raw=self.settings.include_raw_by_default if include_raw is None else include_raw,
            include_digests=include_digests, include_recent=include_recent, include_semantic=include_semantic,
            include_derived=include_derived, include_contradictions=include_contradictions,
            cross_agents=tuple(canonicalize_agent_type(a) for a in cross_agents), project_root=project_root,
        )
        rep = self.representations.build(ns, req)
        self.store.record_metrics([("cognition.representation.total_ms", rep.took_ms, {"namespace_id": ns.id})])
        return rep

    def perspective_memories(self, agent: str, observer: str, subject: str, *, session_key: str | None = None,
                             level: str | None = None, limit: int = 20) -> list[Memory]:
        """Memories seen by `observer` about `subject` (optionally in one session, at one level), newest first."""
        if not 1 <= limit <= 100:
            raise InvalidInput(f"limit {limit} is out of range", hint="use 1 to 100")
        ns = self.namespace(agent, create=False)
        levels = (CognitiveLevel.parse(level),) if level else None
        rows = self.store.list_memories(
            MemoryFilter(agents=(ns.name,), levels=levels, session_key=session_key,
                         include_raw=levels is not None and CognitiveLevel.RAW in levels),
            limit=max(limit * 10, 200), order="newest")
        return filter_perspective(rows, observer, subject, session_key)[:limit]

    # subconscious: hot cache, context.md, soul, activity monitor, deep dream ------------
    @staticmethod
    def _project_root(cwd: str | Path) -> Path | None:
        from nexus_memory.project import find_root

        path = Path(cwd).expanduser()
        if not path.is_dir():
            return None
        try:
            return find_root(path)
        except OSError:
            return None

    def monitor(self) -> ActivityMonitor | None:
        if self.data_dir is None:
            return None
        return ActivityMonitor.load(self.data_dir / "activity_monitor.json",
                                    self.system.deep_dream_cooldown_hours * 3600,
                                    self.system.deep_dream_inactivity_mins)

    def refresh_project(self, root: Path, agent: str, *, session_id: str | None = None) -> RefreshResult:
        """Promote the project's best memories into the hot cache and rewrite .nexus/context.md."""
        from nexus_memory.project import resolve_project

        keys = resolve_project(root, with_remote=False).scope_keys()  # the repository's key in git (issue 16)
        rep = self.represent(agent, query=root.name, session_key=session_id,
                             max_items=max(self.system.hot_cache_max_entries, 4), project_root=keys)
        return refresh_project(root, rep, agent=canonicalize_agent_type(agent),
                               max_entries=self.system.hot_cache_max_entries,
                               allocation_pct=self.system.context_allocation_pct, now=self.clock(),
                               session_id=session_id)

    def nap(self, agent: str, cwd: str, session_id: str | None = None) -> NapResult:
        root = self._project_root(cwd)
        if root is None:
            raise InvalidInput(f"{cwd} is not a directory", hint="pass the project folder with --cwd")
        drained = self.drain(f"nap-{agent}", agent=agent, timeout_secs=self.settings.session_end_dream_timeout_secs)
        return NapResult(drained, self.refresh_project(root, agent, session_id=session_id))

    def soul(self) -> SoulView:
        config_dir = self._config_dir()
        return SoulView(soul_path(config_dir), read_soul(config_dir))

    def rebuild_soul(self, agents: Sequence[str] | None = None) -> SoulResult:
        names = [canonicalize_agent_type(a) for a in agents] if agents else None
        return rebuild_soul(self.deps, self._config_dir(), names)

    def _config_dir(self) -> Path:
        if self.config_dir is None:
            raise InvalidInput("no config directory is set", hint="set NEXUS_HOME or XDG_CONFIG_HOME")
        return self.config_dir

    def deep_dream(self, *, force: bool = False) -> DeepDreamResult:
        """Drain every namespace, rebuild soul.md, prune archived raw activity; gated by the monitor."""
        now = self.clock()
        monitor = self.monitor()
        if not force and monitor is not None and not monitor.should_deep_dream(now):
            return DeepDreamResult(False, "inside the cooldown, or the user is active (use --force)")
        drained = self.drain("deep-dream", rounds=5, timeout_secs=60)
        pruned = {ns.name: prune_archived_raw(self.store, ns, now) for ns in self.store.list_namespaces()}
        soul = self.rebuild_soul() if self.config_dir is not None else None
        if monitor is not None:
            monitor.mark_deep_dream(now)
            monitor.save()
        return DeepDreamResult(True, drain=drained, pruned=pruned, soul=soul)

    def subconscious_status(self, cwd: str | None = None, mode: str = "whisper") -> SubconsciousStatus:
        root = self._project_root(cwd) if cwd else None
        monitor = self.monitor()
        return SubconsciousStatus(
            mode=mode, project=cache_status(root) if root is not None else None,
            soul=self.soul() if self.config_dir is not None else SoulView(None, None),
            monitor=monitor, should_deep_dream=monitor.should_deep_dream(self.clock()) if monitor else False,
            jobs=self.job_counts(), llm=self.llm_status().summary)

    def thread_status(self) -> CognitionThreadStatus | None:
        """The cognition thread's status: in this process, or as the `nexus worker` child last reported it."""
        if self.thread is not None:
            return self.thread.status
        reported = self.thread_status_provider() if self.thread_status_provider is not None else None
        if reported is None:
            return None
        from nexus_memory.background.cognition_thread import CognitionThreadStatus

        return CognitionThreadStatus.from_dict(reported)

    def start_thread(self, *, poll_secs: float = 15.0,
                     before_tick: Callable[[], None] | None = None) -> CognitionThread | None:
        """The cognition thread for long-running processes (`nexus serve`, `nexus worker`); None when the runtime is off."""
        if not self.settings.auto_runtime_enabled:
            return None
        from nexus_memory.background.cognition_thread import CognitionThread

        thread = CognitionThread(self, poll_secs=poll_secs, before_tick=before_tick)
        thread.start()
        self.thread = thread
        return thread

    def llm_test(self) -> LLMTestResult:
        """One tiny JSON call through the chain; counted in the ledger like any other."""
        if self.llm is None or self.llm.client is None:
            reason = self.llm.config_error if self.llm and self.llm.config_error else "no LLM provider is configured"
            return LLMTestResult(False, error=reason,
                                 hint="set NEXUS_LLM_PROVIDER (openai, anthropic, ollama, ...) and its key variable")
        t0 = time.perf_counter()
        before = self.llm.ledger.totals().tokens
        answer = self.llm.complete_json("llm_test", "Answer with JSON only.",
                                        'Return {"color": "blue", "number": 42}.', max_tokens=32, temperature=0.0)
        took = (time.perf_counter() - t0) * 1000
        client = self.llm.client
        if answer is None:
            return LLMTestResult(False, error=self.llm.last_error or "the answer was not usable JSON",
                                 provider=client.provider, model=client.model)
        return LLMTestResult(True, provider=client.provider, model=client.model, answer=answer, latency_ms=took,
                             tokens=self.llm.ledger.totals().tokens - before)

    def llm_status(self) -> LLMReport:
        return LLMReport(self.llm.status() if self.llm is not None else None)


def attach_runtime(service: CognitionService) -> tuple[Callable[..., None], Callable[..., None]]:
    """The (on_start, on_shutdown) pair for RuntimeController."""
    return service.on_runtime_start, service.on_runtime_shutdown
