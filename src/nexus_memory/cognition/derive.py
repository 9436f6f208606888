"""Derive (reference 5.4): a raw memory -> explicit observations, with lineage; follow-up jobs queued."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from nexus_memory.cognition.base import StageDeps, cognitive, new_memory, perspective_of
from nexus_memory.domain.enums import (
    CognitiveLevel,
    EvidenceRole,
    JobType,
    MemoryCategory,
    MemoryLaneType,
    PerspectiveSource,
)
from nexus_memory.domain.models import AgentNamespace, Memory, PerspectiveKey

MIN_CONFIDENCE = 0.70
SYSTEM_PROMPT = (
    "Convert one raw coding-agent activity record into durable, standalone observations worth remembering "
    "(decisions, facts about the project, preferences, specifications). Skip operational noise. Answer with JSON "
    'only: {"observations": [{"content": str, "category": "general"|"facts"|"preferences"|"context"|'
    '"specifications"|"session", "memory_lane_type": str|null, "labels": [str], "confidence": 0..1}]}.'
)
_DROP_LABELS = {"raw-activity", "low-signal", "distill-pending"}


@dataclass
class DeriveResult:
    memory_id: int
    status: str  # derived | existing | skipped
    derived_ids: list[int] = field(default_factory=list)
    reason: str = ""
    used_llm: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {"memory_id": self.memory_id, "status": self.status, "derived_ids": self.derived_ids,
                "reason": self.reason, "used_llm": self.used_llm}


def eligible(m: Memory) -> bool:
    """Upstream: category session AND label raw-activity AND level raw."""
    return m.category is MemoryCategory.SESSION and "raw-activity" in m.labels and m.level() is CognitiveLevel.RAW


def _fallback_text(m: Memory) -> str:
    agent = m.metadata.get("agent")
    if isinstance(agent, Mapping):
        summary = str(agent.get("summary") or "").strip()
        if len(summary) >= 16 and re.search(r"\w", summary):
            return summary
    return " ".join(m.content.split())


def _observations(answer: dict[str, Any] | None) -> list[Mapping[str, Any]]:
    if not answer:
        return []
    items = answer.get("observations") or answer.get("memories") or answer.get("items") or []
    return [i for i in items if isinstance(i, Mapping)] if isinstance(items, list) else []


def derive_memory(deps: StageDeps, ns: AgentNamespace, memory_id: int, *,
                  perspective: PerspectiveKey | None = None, job_id: int | None = None,
                  force: bool = False) -> DeriveResult:
    store = deps.store
    source = store.get(memory_id)
    if source is None:
        return DeriveResult(memory_id, "skipped", reason="the memory no longer exists")
    existing = [ev.derived_memory_id for ev in store.lineage(memory_id)
                if ev.source_memory_id == memory_id and ev.evidence_role == EvidenceRole.DERIVED_FROM.value]
    if existing:
        return DeriveResult(memory_id, "existing", existing)
    if not (eligible(source) or force):
        return DeriveResult(memory_id, "skipped", reason="only raw session activity is derived")
    fallback_p = PerspectiveKey.infer(PerspectiveSource.HOOK_INGEST, ns.name, source.session_key)
    p = perspective or perspective_of(source, fallback_p)
    answer = deps.llm_json("derive", SYSTEM_PROMPT, source.content[:12000], max_tokens=4096, temperature=0.1,
                           job_id=job_id)
    items = _observations(answer)
    used_llm = bool(items)
    base_labels = [lbl for lbl in source.labels if lbl not in _DROP_LABELS]
    seen: set[str] = set()
    drafts: list[tuple[str, MemoryCategory, MemoryLaneType | None, list[str], float]] = []
    for item in items:
        text = " ".join(str(item.get("content") or item.get("memory_text") or "").split())
        try:
            conf = float(item.get("confidence", MIN_CONFIDENCE))
        except (TypeError, ValueError):
            conf = MIN_CONFIDENCE
        if not text or conf < MIN_CONFIDENCE or text.casefold() in seen:
            continue
        seen.add(text.casefold())
        labels = [str(x) for x in item.get("labels") or [] if str(x) not in _DROP_LABELS]
        drafts.append((text, MemoryCategory.from_db(str(item.get("category") or "general")),
                       MemoryLaneType.from_db(str(item.get("memory_lane_type") or "")), labels, conf))
    if not drafts:
        used_llm = False
        text = _fallback_text(source)
        if not text:
            return DeriveResult(memory_id, "skipped", reason="nothing to derive")
        drafts = [(text, MemoryCategory.GENERAL, None, [], MIN_CONFIDENCE)]
    derived: list[int] = []
    for text, category, lane, labels, conf in drafts:
        cog = cognitive(CognitiveLevel.EXPLICIT, p, "derive", confidence=max(conf, MIN_CONFIDENCE),
                        generated_by="derive_service", sources=[memory_id], now=deps.clock())
        new = new_memory(ns.name, text, cog, category=category, lane=lane,
                         labels=list(dict.fromkeys([*base_labels, *labels, "derived"])))
        derived.append(store.store_with_lineage(new, [memory_id], EvidenceRole.DERIVED_FROM.value).memory.id)
    for mid in derived:
        store.enqueue_job(ns.id, JobType.REFLECT_PERSPECTIVE.value,
                          {"memory_id": mid, "reason": "new_explicit_observation"},
                          perspective=p.to_dict(), priority=110)
    if p.session_key:
        store.enqueue_job(ns.id, JobType.DIGEST_SESSION.value,
                          {"session_key": p.session_key, "reason": "post_derivation_rollover"}, priority=120)
    return DeriveResult(memory_id, "derived", derived, used_llm=used_llm)
