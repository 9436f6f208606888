"""The working representation (reference 5.7): five bounded buckets with gates, blended scores and reasons.

Every candidate either ends up in a bucket with its score and why it was kept,
or in `excluded` with the reason it was dropped (level gate, confidence gate,
deduplicated, budget truncation), so surfaces can show their work.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from nexus_memory.config import CognitionSettings
from nexus_memory.domain import ranking
from nexus_memory.domain.enums import CognitiveLevel, ExclusionReason, MemoryBucket
from nexus_memory.domain.models import AgentNamespace, Memory, MemoryFilter, PerspectiveKey
from nexus_memory.domain.timeutil import Clock, utcnow
from nexus_memory.storage.base import Store

#: (query, filter, limit) -> [(memory id, similarity in 0..1)], best first.
SemanticSearch = Callable[[str, MemoryFilter, int], list[tuple[int, float]]]


@dataclass(frozen=True, slots=True)
class RepresentationRequest:
    query: str | None = None
    perspective: PerspectiveKey | None = None
    max_items: int = 24
    include_raw: bool = False
    include_digests: bool = True
    include_recent: bool = True
    include_semantic: bool = True
    include_derived: bool = True
    include_contradictions: bool = True
    cross_agents: tuple[str, ...] = ()
    #: Only this project's memories and those of no project (the nap, context.md): its key or keys
    #: (a repository's `git:<root commit>` and its worktree folders, ProjectIdentity.scope_keys).
    project_root: str | tuple[str, ...] | None = None

    def wants(self, bucket: MemoryBucket) -> bool:
        return bool(getattr(self, f"include_{bucket.value}"))


@dataclass(slots=True)
class Item:
    memory: Memory
    bucket: MemoryBucket
    score: float
    reasons: list[str] = field(default_factory=list)
    similarity: float | None = None

    def to_dict(self, width: int = 0) -> dict[str, Any]:
        m = self.memory
        cog = m.cognitive
        return {
            "id": m.id, "bucket": self.bucket.value, "score": round(self.score, 4),
            "content": m.content if not width else m.content[:width], "level": m.level().value,
            "category": m.category.value, "labels": list(m.labels), "session_key": m.session_key,
            "confidence": cog.confidence if cog else None,
            "times_reinforced": cog.times_reinforced if cog else 0,
            "times_contradicted": cog.times_contradicted if cog else 0,
            "resolution_status": cog.resolution_status if cog else None,
            "similarity": round(self.similarity, 4) if self.similarity is not None else None,
            "created_at": m.created_at.isoformat() if m.created_at else None,
            "reasons": self.reasons,
        }


@dataclass(slots=True)
class Exclusion:
    memory_id: int
    bucket: MemoryBucket
    reason: ExclusionReason
    detail: str

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.memory_id, "bucket": self.bucket.value, "reason": self.reason.value,
                "detail": self.detail}


@dataclass(slots=True)
class WorkingRepresentation:
    agent: str
    request: RepresentationRequest
    limits: ranking.BucketLimits
    buckets: dict[MemoryBucket, list[Item]]
    excluded: list[Exclusion]
    took_ms: float
    semantic_mode: str

    def items(self) -> list[Item]:
        """Every kept item, best first."""
        flat = [i for items in self.buckets.values() for i in items]
        return sorted(flat, key=lambda i: ranking.sort_key(i.score, i.memory, i.bucket))

    def ranked(self) -> list[Item]:
        """The query view: kept items that match the query, by 0.6 x similarity + 0.4 x bucket score.

        Without a query this is `items()`. Digests and reflection output match when their text
        does, so a contradiction about the topic ranks next to the statements it relates.
        """
        if not (self.request.query and self.request.query.strip()):
            return self.items()
        def rank(i: Item) -> float:
            # A digest matches most queries because it holds a whole session: half weight.
            sim = (i.similarity or 0.0) * (0.5 if i.memory.level().is_summary else 1.0)
            # Belief revision: an overturned statement never outranks on similarity alone.
            demote = ranking.SUPERSEDED_PENALTY if ranking.is_superseded(i.memory) else 0.0
            return 0.6 * sim + 0.4 * i.score - demote

        matched = [i for i in self.items() if (i.similarity or 0.0) > 0.0]
        return sorted(matched, key=lambda i: (-rank(i), i.memory.id))

    def to_dict(self, width: int = 0) -> dict[str, Any]:
        req = self.request
        return {
            "agent_type": self.agent, "query": req.query,
            "perspective": req.perspective.to_dict() if req.perspective else None,
            "max_items": req.max_items, "semantic_mode": self.semantic_mode,
            "limits": {b.value: self.limits.of(b) for b in MemoryBucket},
            **{b.value: [i.to_dict(width) for i in self.buckets.get(b, [])] for b in MemoryBucket},
            "excluded": [e.to_dict() for e in self.excluded],
            "took_ms": round(self.took_ms, 2),
        }


class RepresentationBuilder:
    def __init__(self, store: Store, settings: CognitionSettings, *, clock: Clock = utcnow,
                 semantic: SemanticSearch | None = None, semantic_mode: str = "bm25") -> None:
        self.store = store
        self.settings = settings
        self.clock = clock
        self.semantic = semantic
        self.semantic_mode = semantic_mode if semantic else "bm25"
        self._query_sims: dict[int, float] = {}

    def _bm25(self, query: str, flt: MemoryFilter, limit: int) -> list[tuple[int, float]]:
        hits = self.store.text_search(query, flt, limit=limit)
        top = max((h.score for h in hits), default=0.0)
        return [(h.memory_id, h.score / top if top > 0 else 0.0) for h in hits]

    def _candidates(self, ns: AgentNamespace, req: RepresentationRequest, limits: ranking.BucketLimits
                    ) -> dict[MemoryBucket, list[tuple[Memory, float | None]]]:
        store = self.store
        agents = (ns.name,)
        out: dict[MemoryBucket, list[tuple[Memory, float | None]]] = {b: [] for b in MemoryBucket}
        if req.wants(MemoryBucket.DIGESTS):
            key = req.perspective.session_key if req.perspective else None
            ids = []
            for kind in ("short", "long"):
                row = store.latest_digest(ns.id, kind, key) or (store.latest_digest(ns.id, kind) if key else None)
                if row:
                    ids.append(row.memory_id)
            for other in req.cross_agents:
                other_ns = store.get_namespace(other)
                if other_ns and other_ns.id != ns.id and len(ids) < max(limits.digests, 2) + len(req.cross_agents):
                    row = store.latest_digest(other_ns.id, "short", key) or store.latest_digest(other_ns.id, "short")
                    if row:
                        ids.append(row.memory_id)
            out[MemoryBucket.DIGESTS] = [(m, None) for m in store.get_many(ids)]
        keys = (req.project_root,) if isinstance(req.project_root, str) else tuple(req.project_root or ())
        scope = (*keys, None) if keys else None
        levels: tuple[CognitiveLevel, ...] = (CognitiveLevel.EXPLICIT,)
        if req.include_raw:
            levels += (CognitiveLevel.RAW,)
        if req.wants(MemoryBucket.RECENT):
            n = ranking.overfetch(req.max_items, limits.recent)
            # A question the user asked holds no fact: it is not a recent memory to carry forward.
            out[MemoryBucket.RECENT] = [(m, None) for m in store.list_memories(
                MemoryFilter(agents=agents, levels=levels, include_raw=req.include_raw, projects=scope), limit=n,
                order="newest") if "question" not in m.labels]
        if req.wants(MemoryBucket.DERIVED):
            n = ranking.overfetch(req.max_items, limits.derived)
            out[MemoryBucket.DERIVED] = [(m, None) for m in store.list_memories(
                MemoryFilter(agents=agents, levels=(CognitiveLevel.DERIVED,), projects=scope), limit=n,
                order="reinforced")]
        if req.wants(MemoryBucket.CONTRADICTIONS):
            n = ranking.overfetch(req.max_items, max(limits.contradictions, 1))
            out[MemoryBucket.CONTRADICTIONS] = [(m, None) for m in store.list_memories(
                MemoryFilter(agents=agents, levels=(CognitiveLevel.CONTRADICTION,), projects=scope), limit=n,
                order="contradicted")]
        if req.query and req.query.strip():
            n = ranking.overfetch(req.max_items, limits.semantic)
            flt = MemoryFilter(agents=agents, include_raw=req.include_raw, projects=scope)
            hits = self.semantic(req.query, flt, n) if self.semantic else self._bm25(req.query, flt, n)
            if self.semantic and len(hits) < n:
                # Top up from full-text search, as upstream tops up from LIKE.
                seen = {i for i, _ in hits}
                hits += [(i, s * 0.6) for i, s in self._bm25(req.query, flt, n) if i not in seen]
            self._query_sims = dict(hits)
            if req.wants(MemoryBucket.SEMANTIC):
                mems = {m.id: m for m in store.get_many([i for i, _ in hits])}
                out[MemoryBucket.SEMANTIC] = [(mems[i], s) for i, s in hits if i in mems]
        return out

    def build(self, ns: AgentNamespace, req: RepresentationRequest) -> WorkingRepresentation:
        t0 = time.perf_counter()
        cfg = self.settings
        now = self.clock()
        limits = ranking.bucket_limits(req.max_items)
        excluded: list[Exclusion] = []
        best: dict[int, Item] = {}
        self._query_sims = {}
        for bucket, cands in self._candidates(ns, req, limits).items():
            for memory, sim in cands:
                level = memory.level()
                if bucket is not MemoryBucket.DIGESTS and not ranking.admits_level(bucket, level, req.include_raw):
                    excluded.append(Exclusion(memory.id, bucket, ExclusionReason.LEVEL_GATE,
                                              f"{level.value} memories do not go in {bucket.value}"))
                    continue
                if not ranking.passes_confidence_gate(memory):
                    excluded.append(Exclusion(memory.id, bucket, ExclusionReason.CONFIDENCE_GATE,
                                              f"confidence {ranking.confidence_of(memory)} is below the "
                                              f"{level.value} gate {ranking.CONFIDENCE_GATES.get(level)}"))
                    continue
                score = ranking.blended_score(
                    bucket, memory, now, request=req.perspective, similarity=sim, include_raw=req.include_raw,
                    decay_enabled=cfg.memory_decay_enabled, decay_age_days=cfg.memory_decay_age_days,
                    decay_access_boost_days=cfg.memory_decay_access_boost_days,
                )
                qsim = sim if sim is not None else self._query_sims.get(memory.id)
                item = Item(memory, bucket, score, _reasons(memory, bucket, qsim), qsim)
                current = best.get(memory.id)
                if current is None:
                    best[memory.id] = item
                    continue
                keep, drop = (item, current) if ranking.sort_key(item.score, memory, bucket) < ranking.sort_key(
                    current.score, current.memory, current.bucket) else (current, item)
                best[memory.id] = keep
                excluded.append(Exclusion(memory.id, drop.bucket, ExclusionReason.DEDUPLICATED,
                                          f"kept in {keep.bucket.value} with a higher score"))
        buckets: dict[MemoryBucket, list[Item]] = {b: [] for b in MemoryBucket}
        for item in sorted(best.values(), key=lambda i: ranking.sort_key(i.score, i.memory, i.bucket)):
            if len(buckets[item.bucket]) < limits.of(item.bucket):
                buckets[item.bucket].append(item)
            else:
                excluded.append(Exclusion(item.memory.id, item.bucket, ExclusionReason.BUDGET_TRUNCATION,
                                          f"the {item.bucket.value} bucket holds {limits.of(item.bucket)}"))
        took = (time.perf_counter() - t0) * 1000
        return WorkingRepresentation(ns.name, req, limits, buckets, excluded, took, self.semantic_mode)


def _reasons(memory: Memory, bucket: MemoryBucket, sim: float | None) -> list[str]:
    cog = memory.cognitive
    out = [f"{memory.level().value} memory in the {bucket.value} bucket"]
    if sim is not None:
        out.append(f"matches the query (similarity {sim:.2f})")
    if cog and cog.times_reinforced:
        out.append(f"reinforced {cog.times_reinforced}x")
    if cog and cog.times_contradicted:
        out.append(f"contradicted {cog.times_contradicted}x")
    if ranking.is_superseded(memory):
        out.append("superseded by a newer statement (demoted)")
    elif cog and cog.resolution_status == ranking.RESOLUTION_PREFERRED:
        out.append("preferred over an older contradicting statement")
    return out


def filter_perspective(mems: Sequence[Memory], observer: str, subject: str,
                       session_key: str | None) -> list[Memory]:
    out = []
    for m in mems:
        cog = m.cognitive
        if not cog or cog.observer != observer or cog.subject != subject:
            continue
        if session_key and cog.session_key != session_key and session_key not in cog.session_keys:
            continue
        out.append(m)
    return out
