"""Reflection (reference 5.6, improved): reinforcement, contradiction with belief revision, insights.

One pass loads the candidates and their existing reflection links with two
queries, classifies candidate pairs from an inverted index (plus embedding
neighbours when vectors exist), then writes only what is new. Idempotent:
running it twice adds nothing.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from nexus_memory.cognition.base import StageDeps, cognitive, new_memory, perspective_of, shorten
from nexus_memory.domain import reflection as rules
from nexus_memory.domain.enums import (
    CognitiveLevel,
    EvidenceRole,
    MemoryCategory,
    MemoryLaneType,
    PerspectiveSource,
    RelationType,
)
from nexus_memory.domain.models import (
    AgentNamespace,
    CognitiveMetadata,
    Evidence,
    Memory,
    MemoryFilter,
    MemoryPatch,
    MemoryRelation,
    NewMemory,
    PerspectiveKey,
)
from nexus_memory.domain.ranking import RESOLUTION_PREFERRED, RESOLUTION_SUPERSEDED
from nexus_memory.storage.base import Store

DEFAULT_LIMIT = 1000
MAX_EMBEDDED = 256
#: Bounded work per pass: at most this many new contradictions, reinforcement clusters and insights;
#: the rest are found by the next dream.
MAX_NEW_PER_KIND = 200
#: Contradictions are stored above the contradictions-bucket gate (0.80) so they surface in recall;
#: upstream stored them at 0.70, below its own gate.
CONTRADICTION_CONFIDENCE = 0.85
REINFORCEMENT_CONFIDENCE = 0.75
# Not statements to weigh against each other: questions assert nothing; extracted tool facts, errors and
# resolutions are observations at a moment (a failure followed by its fix is a resolution, linked as
# `resolved_by` at capture, not a contradiction).
_SKIP_LABELS = {"reflection", "runtime", "digest", "question", "extracted", "resolution", "error"}
_ROLES = (EvidenceRole.REINFORCES.value, EvidenceRole.CONTRADICTS.value, EvidenceRole.INSIGHT_SUPPORT.value)


@dataclass
class ReflectResult:
    candidates: int = 0
    pairs_compared: int = 0
    reinforcements: list[int] = field(default_factory=list)
    contradictions: list[int] = field(default_factory=list)
    insights: list[int] = field(default_factory=list)
    superseded: list[int] = field(default_factory=list)
    used_embeddings: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {"candidates": self.candidates, "pairs_compared": self.pairs_compared,
                "reinforcements": self.reinforcements, "contradictions": self.contradictions,
                "insights": self.insights, "superseded": self.superseded,
                "used_embeddings": self.used_embeddings}


def is_candidate(m: Memory) -> bool:
    from nexus_memory.domain.extract import is_question

    cog = m.cognitive
    if cog and cog.generated_by == "reflect_service":
        return False
    return not (_SKIP_LABELS & set(m.labels)) and not is_question(m.content)


def load_candidates(deps: StageDeps, ns: AgentNamespace, limit: int) -> list[Memory]:
    rows = deps.store.list_memories(
        MemoryFilter(agents=(ns.name,), levels=(CognitiveLevel.EXPLICIT, CognitiveLevel.DERIVED)),
        limit=limit * 2, order="newest",
    )
    return [m for m in rows if is_candidate(m)][:limit]


def embedding_pairs(mems: Sequence[Memory], vectors: dict[int, Sequence[float]],
                    threshold: float = rules.CONTRADICT_COSINE) -> dict[tuple[int, int], float]:
    """(i, j) -> cosine for pairs above `threshold`; numpy when installed, else skipped."""
    idx = [i for i, m in enumerate(mems) if m.id in vectors]
    if len(idx) < 2:
        return {}
    try:
        import numpy as np
    except ImportError:
        return {}
    mat = np.asarray([vectors[mems[i].id] for i in idx], dtype=np.float32)
    norms = np.linalg.norm(mat, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    mat = mat / norms
    sims = mat @ mat.T
    rows, cols = np.nonzero(np.triu(sims, k=1) >= threshold)
    return {(idx[int(r)], idx[int(c)]): float(sims[r, c]) for r, c in zip(rows, cols, strict=True)}


def _links(evidence: Sequence[Evidence]) -> dict[str, dict[int, set[int]]]:
    """role -> derived memory id -> its source ids."""
    out: dict[str, dict[int, set[int]]] = defaultdict(lambda: defaultdict(set))
    for ev in evidence:
        out[ev.evidence_role][ev.derived_memory_id].add(ev.source_memory_id)
    return out


class _Pending:
    """Metadata changes to candidates, written in one transaction at the end."""

    def __init__(self, mems: dict[int, Memory]) -> None:
        self.mems = mems
        self.cogs: dict[int, CognitiveMetadata] = {}

    def cog(self, mid: int) -> CognitiveMetadata:
        if mid not in self.cogs:
            self.cogs[mid] = self.mems[mid].cognitive or CognitiveMetadata(level=self.mems[mid].level())
        return self.cogs[mid]

    def items(self) -> list[tuple[int, dict[str, Any]]]:
        return [(mid, cog.merge_into(self.mems[mid].metadata)) for mid, cog in self.cogs.items()]


def _project_root(m: Memory) -> str | None:
    hook = m.metadata.get("hook") if isinstance(m.metadata, dict) else None
    # a repository's worktrees are one project (issue 16): its key first, the folder for older memories
    root = (hook.get("project_id") or hook.get("project_root")) if isinstance(hook, dict) else None
    return str(root) if root else None


def _in_session(m: Memory, session_key: str) -> bool:
    cog = m.cognitive
    return m.session_key == session_key or bool(cog and session_key in cog.session_keys)


def _age_key(m: Memory) -> tuple[float, int]:
    return (m.created_at.timestamp() if m.created_at else 0.0, m.id)


def _newest_contradictor(findings: Sequence[rules.PairFinding], mems: Sequence[Memory]) -> list[rules.PairFinding]:
    """One contradiction per overturned statement: the one with its newest contradictor.

    k statements that all disagree (a value changed k - 1 times) give k - 1 records, not k(k-1)/2;
    the newest statement wins and every older one is superseded by it.
    """
    best: dict[int, tuple[tuple[float, int], rules.PairFinding]] = {}
    for f in findings:
        older, newer = sorted((f.left, f.right), key=lambda i: _age_key(mems[i]))
        key = _age_key(mems[newer])
        if older not in best or key > best[older][0]:
            best[older] = (key, f)
    return [f for _, f in sorted(best.values(), key=lambda x: (-x[0][0], -x[0][1]))]


def _inherit_resolution(store: Store, memory_id: int, members: Sequence[CognitiveMetadata]) -> None:
    """A reinforcement of statements that were all overturned is overturned too (and recovers when not)."""
    memory = store.get(memory_id)
    cog = memory.cognitive if memory else None
    if memory is None or cog is None or not members:
        return
    superseded = all(c.resolution_status == RESOLUTION_SUPERSEDED for c in members)
    status = RESOLUTION_SUPERSEDED if superseded else None
    if cog.resolution_status != status:
        cog.resolution_status = status
        store.update_metadata_many([(memory_id, cog.merge_into(memory.metadata))])


def reflect(deps: StageDeps, ns: AgentNamespace, *, session_key: str | None = None,
            limit: int = DEFAULT_LIMIT) -> ReflectResult:
    store, cfg = deps.store, deps.settings
    mems = load_candidates(deps, ns, limit)
    result = ReflectResult(candidates=len(mems))
    if len(mems) < 2:
        return result
    statements = [rules.analyse(i, m.content, m.created_at.timestamp() if m.created_at else 0.0)
                  for i, m in enumerate(mems)]
    cosines: dict[tuple[int, int], float] = {}
    if deps.vectors is not None:
        # Embedding is the expensive part: only the newest candidates get vectors (text rules cover the
        # rest); a session-scoped pass embeds the session's memories and the newest few others.
        chosen = mems[:MAX_EMBEDDED]
        if session_key:
            own = [m for m in mems if _in_session(m, session_key)]
            others = [m for m in mems if not _in_session(m, session_key)][:64]
            chosen = (own + others)[:MAX_EMBEDDED]
        vecs = deps.vectors(chosen)
        cosines = embedding_pairs(mems, vecs)
        result.used_embeddings = bool(vecs)
    plan = rules.plan_reflection(statements, cosines)
    result.pairs_compared = plan.pairs_compared
    # Two projects' statements never weigh against each other ("Node 20" here, "Node 22" there).
    projects = [_project_root(m) for m in mems]

    def same_project(f: rules.PairFinding) -> bool:
        a, b = projects[f.left], projects[f.right]
        return a is None or b is None or a == b

    plan.reinforcements = [f for f in plan.reinforcements if same_project(f)]
    plan.contradictions = [f for f in plan.contradictions if same_project(f)]
    plan.related = [f for f in plan.related if same_project(f)]
    if session_key:
        focus = {i for i, m in enumerate(mems) if _in_session(m, session_key)}

        def keep(f: rules.PairFinding) -> bool:
            return f.left in focus or f.right in focus

        plan.reinforcements = [f for f in plan.reinforcements if keep(f)]
        plan.contradictions = [f for f in plan.contradictions if keep(f)]
        plan.related = [f for f in plan.related if keep(f)]
    links = _links(store.lineage_batch([m.id for m in mems], _ROLES))
    by_id = {m.id: m for m in mems}
    pending = _Pending(by_id)
    now = deps.clock()
    reflect_p = PerspectiveKey.infer(PerspectiveSource.REFLECTION, ns.name, session_key)

    # Contradictions first: a contradicting pair must not also count as reinforcement or insight.
    contradicting = {frozenset((mems[f.left].id, mems[f.right].id)) for f in plan.contradictions}
    covered = {frozenset(s) for s in links[EvidenceRole.CONTRADICTS.value].values()}
    supersede_rows: list[Evidence] = []
    fresh = [f for f in _newest_contradictor(plan.contradictions, mems)
             if frozenset((mems[f.left].id, mems[f.right].id)) not in covered]
    drafts: list[tuple[NewMemory, Memory, Memory, rules.PairFinding]] = []
    for f in fresh[:MAX_NEW_PER_KIND]:
        a, b = mems[f.left], mems[f.right]
        covered.add(frozenset((a.id, b.id)))
        older, newer = sorted((a, b), key=_age_key)
        p = perspective_of(newer, reflect_p)
        cog = cognitive(CognitiveLevel.CONTRADICTION, p, "reflect", confidence=CONTRADICTION_CONFIDENCE,
                        generated_by="reflect_service", sources=[older.id, newer.id], now=now, times_contradicted=1)
        content = f'Contradiction: "{shorten(older.content, 200)}" vs "{shorten(newer.content, 200)}"'
        extra = {"contradiction_source_ids": [older.id, newer.id],
                 "belief_revision": {"preferred": newer.id, "superseded": older.id, "reason": f.verdict.reason,
                                     "similarity": round(f.verdict.similarity, 3)}}
        drafts.append((new_memory(ns.name, content, cog, category=MemoryCategory.FACTS,
                                  lane=MemoryLaneType.METAMEMORY, labels=["reflection", "contradiction", "auto"],
                                  extra=extra), older, newer, f))
    # One transaction for the contradiction memories and one for all their evidence rows.
    outcomes = store.store_many([d[0] for d in drafts]) if drafts else []
    for (_, older, newer, f), outcome in zip(drafts, outcomes, strict=True):
        mid = outcome.memory.id
        result.contradictions.append(mid)
        supersede_rows += [Evidence(mid, older.id, EvidenceRole.CONTRADICTS.value),
                           Evidence(mid, newer.id, EvidenceRole.CONTRADICTS.value)]
        for m in (older, newer):
            pending.cog(m.id).times_contradicted += 1
        if cfg.contradiction_belief_revision_enabled:
            lose, win = pending.cog(older.id), pending.cog(newer.id)
            base = lose.confidence if lose.confidence is not None else 0.9
            lose.confidence = round(max(0.05, base - cfg.contradiction_confidence_penalty), 4)
            lose.resolution_status = RESOLUTION_SUPERSEDED
            lose.last_belief_revision = now
            # Superseded wins over preferred: any newer contradicting statement demotes a memory.
            if win.resolution_status != RESOLUTION_SUPERSEDED:
                win.resolution_status = RESOLUTION_PREFERRED
            win.last_belief_revision = now
            store.add_relation(MemoryRelation(newer.id, older.id, RelationType.SUPERSEDES.value, 1.0,
                                              {"contradiction_memory_id": mid, "reason": f.verdict.reason}))
            supersede_rows.append(Evidence(newer.id, older.id, EvidenceRole.SUPERSEDES.value))
            result.superseded.append(older.id)

    store.add_evidence(supersede_rows)

    # Reinforcement: one memory per cluster of mutually reinforcing statements.
    reinforcing = [f for f in plan.reinforcements
                   if frozenset((mems[f.left].id, mems[f.right].id)) not in contradicting]
    clusters = rules.ReflectionPlan(reinforcements=reinforcing).components(len(mems), min_size=2)[:MAX_NEW_PER_KIND]
    existing_r = links[EvidenceRole.REINFORCES.value]
    for members in clusters:
        ids = {mems[i].id for i in members}
        owner = next((d for d, srcs in existing_r.items() if srcs & ids), None)
        if owner is not None and ids <= existing_r[owner]:
            continue
        all_ids = sorted(ids | (existing_r[owner] if owner is not None else set()))
        newest = max((by_id[i] for i in all_ids if i in by_id), key=lambda m: (m.created_at or now, m.id))
        n = len(all_ids)
        content = f"Reinforced observation ({n}x): {shorten(newest.content, 400)}"
        if owner is not None:
            store.add_evidence([Evidence(owner, i, EvidenceRole.REINFORCES.value) for i in all_ids])
            current = store.get(owner)
            if current is not None:
                cog_r = current.cognitive or CognitiveMetadata(level=CognitiveLevel.DERIVED)
                cog_r.times_reinforced = n
                cog_r.source_memory_ids = all_ids
                store.update(owner, MemoryPatch(content=content, metadata=cog_r.merge_into(current.metadata)))
            mid = owner
        else:
            p = perspective_of(newest, reflect_p)
            cog = cognitive(CognitiveLevel.DERIVED, p, "reflect", confidence=REINFORCEMENT_CONFIDENCE,
                            generated_by="reflect_service", sources=all_ids, now=now, times_reinforced=n)
            new = new_memory(ns.name, content, cog, category=MemoryCategory.FACTS, lane=MemoryLaneType.METAMEMORY,
                             labels=["reflection", "reinforcement", "auto"])
            mid = store.store_with_lineage(new, all_ids, EvidenceRole.REINFORCES.value).memory.id
        result.reinforcements.append(mid)
        _inherit_resolution(store, mid, [pending.cog(i) for i in all_ids if i in by_id])
        for i in all_ids:
            if i in by_id:
                c = pending.cog(i)
                c.times_reinforced = max(c.times_reinforced, n - 1)

    # Insights: connected components of size >= 3 over reinforcement and related edges.
    edges = rules.ReflectionPlan(
        reinforcements=reinforcing,
        related=[f for f in plan.related if frozenset((mems[f.left].id, mems[f.right].id)) not in contradicting],
    )
    insight_sets = [srcs for srcs in links[EvidenceRole.INSIGHT_SUPPORT.value].values()]
    insight_drafts: list[tuple[NewMemory, list[int]]] = []
    for members in edges.components(len(mems), min_size=3)[:MAX_NEW_PER_KIND]:
        ids = {mems[i].id for i in members}
        if any(ids <= s for s in insight_sets):
            continue
        anchor = by_id[min(ids)]
        p = perspective_of(anchor, reflect_p)
        cog = cognitive(CognitiveLevel.DERIVED, p, "reflect", confidence=rules.insight_confidence(len(ids)),
                        generated_by="reflect_service", sources=sorted(ids), now=now, times_reinforced=len(ids))
        content = f"Dream insight: repeated evidence indicates {shorten(anchor.content, 180)}"
        insight_drafts.append((new_memory(ns.name, content, cog, category=MemoryCategory.FACTS,
                                          lane=MemoryLaneType.INSIGHT, labels=["reflection", "insight", "auto"]),
                               sorted(ids)))
        insight_sets.append(ids)
    outcomes = store.store_many([d[0] for d in insight_drafts]) if insight_drafts else []
    rows: list[Evidence] = []
    for (_, ids_sorted), outcome in zip(insight_drafts, outcomes, strict=True):
        result.insights.append(outcome.memory.id)
        rows += [Evidence(outcome.memory.id, i, EvidenceRole.INSIGHT_SUPPORT.value) for i in ids_sorted]
    store.add_evidence(rows)

    store.update_metadata_many(pending.items())
    return result
