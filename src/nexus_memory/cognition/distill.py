"""Activity distillation (reference 5.3): what a session's episodes hold, kept as facts; nothing lost.

Upstream summarised 8+ raw hook events into one line ("Session X produced N low-signal hook events
...") and archived the events, so what the session held was gone from recall. Here, on purpose:

- without an LLM, distillation is extractive: each episode's fact lines (hosts, ports, paths,
  versions, config keys and values, errors, outcomes: domain/extract.py) become one derived memory
  linked to it, unless capture already wrote one; no summary line is invented;
- with an LLM, the session is also summarised (same prompt as upstream), with the same lineage;
- sources are never archived: an episode stays the record of what happened (searchable, ranked
  below what was derived from it); it is only marked distilled, so it is not processed twice.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from nexus_memory.cognition.base import StageDeps, cognitive, new_memory
from nexus_memory.domain.enums import CognitiveLevel, EvidenceRole, MemoryCategory, MemoryLaneType, PerspectiveSource
from nexus_memory.domain.models import AgentNamespace, Memory, MemoryFilter, PerspectiveKey

PIPELINE = "distill-v1"
SOURCE_STAGE = "nexus:distill-v1"
SYSTEM_PROMPT = (
    "You summarise raw coding-agent hook events into one durable session summary. Answer with JSON only: "
    '{"summary": str, "category": "session"|"context"|"facts", "labels": [2-5 short labels], '
    '"key_activities": [str], "files_touched": [str], "tools_used": [str], "decisions_made": [str]}.'
)


@dataclass
class DistillResult:
    session_key: str
    status: str  # distilled | skipped
    summary_id: int | None = None
    sources: list[int] = field(default_factory=list)
    reason: str = ""
    used_llm: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {"session_key": self.session_key, "status": self.status, "summary_id": self.summary_id,
                "sources": self.sources, "reason": self.reason, "used_llm": self.used_llm}


def _pending(m: Memory) -> bool:
    if not m.is_raw_activity or not m.is_active or m.is_archived:
        return False
    raw = m.metadata.get("raw_activity")
    if isinstance(raw, Mapping) and raw.get("distill_pending") is not None:
        return bool(raw.get("distill_pending"))
    return "distill-pending" in m.labels or "raw-activity" in m.labels


def _field(meta: Mapping[str, Any], *names: str) -> str | None:
    raw = meta.get("raw_activity")
    nested = raw.get("payload") if isinstance(raw, Mapping) else None
    for section in (raw, meta.get("hook"), meta.get("raw_payload"), nested, meta):
        if isinstance(section, Mapping):
            for name in names:
                value = section.get(name)
                if value:
                    return str(value)
    return None


def event_line(m: Memory) -> tuple[str, str | None, str | None, str | None]:
    """(line, event, tool, cwd): `<ts> | <event> | tool=<tool> | cwd=<cwd>`."""
    meta = m.metadata
    ts = _field(meta, "timestamp", "captured_at", "observed_at") or (m.created_at.isoformat() if m.created_at else "?")
    event = _field(meta, "event_name", "event", "hook_event_name")
    tool = _field(meta, "tool", "tool_name", "toolName")
    cwd = _field(meta, "cwd", "working_directory")
    return f"{ts} | {event or '?'} | tool={tool or '-'} | cwd={cwd or '-'}", event, tool, cwd


def _episode_parts(m: Memory) -> tuple[str, str | None, str, str, bool]:
    """(tool, command, target, output, failed) of an episode, from its capture facets and its text."""
    cap = m.metadata.get("capture") if isinstance(m.metadata, Mapping) else None
    cap = cap if isinstance(cap, Mapping) else {}
    head, _, body = m.content.partition("\n")
    command = cap.get("command") or (head[2:].removesuffix(" (failed)") if head.startswith("$ ") else None)
    tool = str(cap.get("tool") or ("Bash" if command else _field(m.metadata, "tool", "tool_name") or "tool"))
    return tool, str(command) if command else None, str(cap.get("target") or ""), body, "error" in m.labels


def distill_session(deps: StageDeps, ns: AgentNamespace, session_key: str, *, job_id: int | None = None,
                    force: bool = False) -> DistillResult:
    from nexus_memory.domain import extract

    cfg = deps.settings
    rows = deps.store.list_memories(
        MemoryFilter(agents=(ns.name,), session_key=session_key, include_raw=True),
        limit=max(cfg.activity_distill_max_events * 4, 200), order="oldest",
    )
    events = [m for m in rows if _pending(m)][: cfg.activity_distill_max_events]
    minimum = 1 if force else cfg.activity_distill_min_events
    if len(events) < minimum:
        return DistillResult(session_key, "skipped",
                             reason=f"{len(events)} pending raw events; distillation needs {minimum}")
    done = {e.source_memory_id for e in deps.store.lineage_batch([m.id for m in events],
                                                                 [EvidenceRole.DERIVED_FROM.value])
            if e.derived_memory_id != e.source_memory_id}
    perspective = PerspectiveKey.infer(PerspectiveSource.HOOK_INGEST, ns.name, session_key)
    extracted: list[int] = []
    for m in events:
        if m.id in done or "tool" not in m.labels:
            continue
        facts = extract.tool_facts(*_episode_parts(m))
        if not facts:
            continue
        cog = cognitive(CognitiveLevel.DERIVED, perspective, SOURCE_STAGE, confidence=0.7,
                        generated_by="distill_service", sources=[m.id], now=deps.clock())
        extra = {k: m.metadata[k] for k in ("hook",) if isinstance(m.metadata.get(k), Mapping)}
        extra["capture"] = {"kind": "extracted"}
        new = new_memory(ns.name, facts, cog, category=MemoryCategory.FACTS, labels=["extracted", "auto-distilled"],
                         lane=MemoryLaneType.EXPLICIT, extra=extra)
        extracted.append(deps.store.store_with_lineage(new, [m.id], EvidenceRole.DERIVED_FROM.value).memory.id)
    summary_id, used_llm = _llm_summary(deps, ns, session_key, events, job_id)
    _mark_distilled(deps, events)
    return DistillResult(session_key, "distilled", summary_id, [m.id for m in events],
                         reason=f"{len(extracted)} extracted fact memories", used_llm=used_llm)


def _llm_summary(deps: StageDeps, ns: AgentNamespace, session_key: str, events: list[Memory],
                 job_id: int | None) -> tuple[int | None, bool]:
    """With an LLM: one summary of the session, linked to its events. Without one: nothing invented."""
    if deps.llm is None:
        return None, False
    lines: list[str] = []
    names: list[str] = []
    tools: list[str] = []
    cwds: list[str] = []
    for m in events:
        line, event, tool, cwd = event_line(m)
        lines.append(line)
        for value, seen in ((event, names), (tool, tools), (cwd, cwds)):
            if value and value not in seen:
                seen.append(value)
    answer = deps.llm_json("activity_distill", SYSTEM_PROMPT,
                           f"Session {session_key}, {len(events)} events:\n" + "\n".join(lines)
                           + "\n\nExcerpts:\n" + "\n".join(m.content[:300] for m in events[:20]),
                           max_tokens=2048, temperature=0.3, job_id=job_id)
    summary = str(answer.get("summary") or "").strip() if answer else ""
    if not summary or not answer:
        return None, False
    cat = str(answer.get("category") or "session")
    category = MemoryCategory.from_db(cat if cat in ("session", "context", "facts") else "session")
    labels = ["activity-summary", "auto-distilled"] + [str(x) for x in (answer.get("labels") or [])[:5]
                                                        if str(x).strip()]
    details: dict[str, Any] = {"key_activities": names[:5], "files_touched": [], "tools_used": tools,
                               "decisions_made": []}
    for key in details:
        value = answer.get(key)
        if isinstance(value, list):
            details[key] = [str(v) for v in value][:20]
    perspective = PerspectiveKey.infer(PerspectiveSource.HOOK_INGEST, ns.name, session_key)
    cog = cognitive(CognitiveLevel.SUMMARY_SHORT, perspective, SOURCE_STAGE, confidence=0.8,
                    generated_by="distill_service", sources=[m.id for m in events], now=deps.clock())
    extra = {"distilled_from": [m.id for m in events], "session_id": session_key, "pipeline": PIPELINE,
             "cwds": cwds[:10], **details}
    hook = next((m.metadata["hook"] for m in events if isinstance(m.metadata.get("hook"), Mapping)), None)
    new = new_memory(ns.name, summary, cog, category=category, labels=labels, lane=MemoryLaneType.EXPLICIT,
                     extra={"distillation_summary": extra, **({"hook": dict(hook)} if hook else {})})
    outcome = deps.store.store_with_lineage(new, [m.id for m in events], EvidenceRole.SOURCE.value)
    return outcome.memory.id, True


def _mark_distilled(deps: StageDeps, events: list[Memory]) -> None:
    updates = []
    for m in events:
        raw = dict(m.metadata.get("raw_activity") or {}) if isinstance(m.metadata.get("raw_activity"), Mapping) \
            else {}
        raw["distill_pending"] = False
        updates.append((m.id, {**m.metadata, "raw_activity": raw}))
    if updates:
        deps.store.update_metadata_many(updates)
