"""Activity distillation (reference 5.3): a session's raw hook events -> one summary; sources archived."""

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


def distill_session(deps: StageDeps, ns: AgentNamespace, session_key: str, *, job_id: int | None = None,
                    force: bool = False) -> DistillResult:
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
    lines, names, tools, cwds = [], [], [], []
    for m in events:
        line, event, tool, cwd = event_line(m)
        lines.append(line)
        if event and event not in names:
            names.append(event)
        if tool and tool not in tools:
            tools.append(tool)
        if cwd and cwd not in cwds:
            cwds.append(cwd)
    answer = deps.llm_json("activity_distill", SYSTEM_PROMPT,
                           f"Session {session_key}, {len(events)} events:\n" + "\n".join(lines)
                           + "\n\nExcerpts:\n" + "\n".join(m.content[:300] for m in events[:20]),
                           max_tokens=2048, temperature=0.3, job_id=job_id)
    summary = str(answer.get("summary") or "").strip() if answer else ""
    used_llm = bool(summary)
    category = MemoryCategory.SESSION
    labels = ["activity-summary", "auto-distilled"]
    details: dict[str, Any] = {"key_activities": names[:5], "files_touched": [], "tools_used": tools,
                               "decisions_made": []}
    if used_llm and answer:
        cat = str(answer.get("category") or "session")
        category = MemoryCategory.from_db(cat if cat in ("session", "context", "facts") else "session")
        labels += [str(x) for x in (answer.get("labels") or [])[:5] if str(x).strip()]
        for key in details:
            value = answer.get(key)
            if isinstance(value, list):
                details[key] = [str(v) for v in value][:20]
    else:
        summary = (f"Session {session_key} produced {len(events)} low-signal hook events across "
                   f"{len(tools)} tool(s), primarily in {cwds[0] if cwds else 'an unknown directory'}.")
        if names:
            summary += f" Events: {', '.join(names[:5])}."
        if tools:
            summary += f" Tools: {', '.join(tools[:8])}."
    perspective = PerspectiveKey.infer(PerspectiveSource.HOOK_INGEST, ns.name, session_key)
    cog = cognitive(CognitiveLevel.SUMMARY_SHORT, perspective, SOURCE_STAGE, confidence=0.8,
                    generated_by="distill_service", sources=[m.id for m in events], now=deps.clock())
    extra = {"distilled_from": [m.id for m in events], "session_id": session_key, "pipeline": PIPELINE,
             "cwds": cwds[:10], **details}
    new = new_memory(ns.name, summary, cog, category=category, labels=labels, lane=MemoryLaneType.EXPLICIT,
                     extra={"distillation_summary": extra})
    outcome = deps.store.store_with_lineage(new, [m.id for m in events], EvidenceRole.SOURCE.value,
                                            archive_sources=True)
    return DistillResult(session_key, "distilled", outcome.memory.id, [m.id for m in events], used_llm=used_llm)
