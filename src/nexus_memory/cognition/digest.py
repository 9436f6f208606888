"""Digests (reference 5.5): one short and one long summary per session, with rollover rules.

Differences from upstream, on purpose: a session keeps exactly one current short
and one current long digest (a rebuild replaces the previous pair and archives its
memories), and runtime markers and reflection output are not digest material.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from nexus_memory.cognition.base import StageDeps, cognitive, new_memory, shorten
from nexus_memory.domain.enums import CognitiveLevel, EvidenceRole, MemoryCategory, MemoryLaneType
from nexus_memory.domain.models import AgentNamespace, Memory, MemoryFilter, PerspectiveKey, SessionDigest
from nexus_memory.domain.ranking import estimate_tokens

FORCED_REASONS = frozenset({"dream_digest", "session_end", "manual_digest", "manual_rebuild"})
MAX_MATERIAL = 200
SYSTEM_PROMPT = (
    "Summarise a coding-agent session from its memories. Answer with JSON only: "
    '{"short": "a few sentences, the decisions and outcomes", "long": "a fuller account"}. '
    "Keep facts, decisions, preferences and open problems; drop noise."
)
_EXCLUDED_LABELS = {"runtime", "reflection", "digest", "question"}
#: What a session said or found, best first: a digest leads with outcomes, not with the request.
_KIND_ORDER = {"decision": 0, "resolution": 0, "finding": 1, "extracted": 2, "rule": 3, "summary": 4, "prompt": 5}


@dataclass
class DigestResult:
    session_key: str
    status: str  # created | unchanged | skipped
    short_id: int | None = None
    long_id: int | None = None
    material: int = 0
    reason: str = ""
    used_llm: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {"session_key": self.session_key, "status": self.status, "short_id": self.short_id,
                "long_id": self.long_id, "material": self.material, "reason": self.reason,
                "used_llm": self.used_llm}


def material(deps: StageDeps, ns: AgentNamespace, session_key: str) -> list[Memory]:
    rows = deps.store.list_memories(
        MemoryFilter(agents=(ns.name,), session_key=session_key,
                     levels=(CognitiveLevel.EXPLICIT, CognitiveLevel.DERIVED)),
        limit=MAX_MATERIAL * 2, order="oldest",
    )
    return [m for m in rows if not (_EXCLUDED_LABELS & set(m.labels))][:MAX_MATERIAL]


def _kind(m: Memory) -> str:
    cap = m.metadata.get("capture") if isinstance(m.metadata, dict) else None
    kind = str(cap.get("kind")) if isinstance(cap, dict) and cap.get("kind") else ""
    if kind == "finding" and "decision" in m.labels:
        return "decision"
    return kind or ("rule" if m.category is MemoryCategory.PREFERENCES else "finding")


def _priority(m: Memory) -> tuple[int, int]:
    lane = m.memory_lane_type
    level = lane.priority_level if lane else None
    return _KIND_ORDER.get(_kind(m), 4), level if level is not None else 4


def worth_a_digest(mems: list[Memory]) -> bool:
    """A digest must say more than one memory already does: two or more, not only what was asked."""
    return len(mems) >= 2 and any(_kind(m) != "prompt" for m in mems)


def deterministic(mems: list[Memory], short_tokens: int, long_tokens: int) -> tuple[str, str]:
    top = sorted(sorted(mems, key=lambda m: (_priority(m), m.id))[:5], key=lambda m: (_priority(m), m.id))
    short = "; ".join(shorten(m.content, 240) for m in top)
    long = "\n".join("- " + shorten(m.content, 600) for m in mems)
    return shorten(short, short_tokens * 4), shorten(long, long_tokens * 4)


def _project(mems: list[Memory]) -> dict[str, str]:
    """The project most of the session's memories belong to (digests are scoped like their sources)."""
    roots: dict[tuple[str, str], int] = {}
    for m in mems:
        hook = m.metadata.get("hook") if isinstance(m.metadata, dict) else None
        if isinstance(hook, dict) and hook.get("project_root"):
            key = (str(hook["project_root"]), str(hook.get("project") or ""))
            roots[key] = roots.get(key, 0) + 1
    if not roots:
        return {}
    root, name = max(roots, key=lambda k: roots[k])
    out = {"project_root": root, "project": name}
    for m in sorted(mems, key=lambda m: m.id, reverse=True):  # git facets (issue 16): the session's last
        hook = m.metadata.get("hook") if isinstance(m.metadata, dict) else None
        if isinstance(hook, dict) and hook.get("project_root") == root and hook.get("project_id"):
            out.update({k: str(hook[k]) for k in ("project_id", "branch", "worktree", "commit") if hook.get(k)})
            break
    return out


def digest_session(deps: StageDeps, ns: AgentNamespace, session_key: str, *, force: bool = False,
                   reason: str = "manual_digest", job_id: int | None = None) -> DigestResult:
    store, cfg = deps.store, deps.settings
    force = force or reason in FORCED_REASONS
    mems = material(deps, ns, session_key)
    if not mems:
        return DigestResult(session_key, "skipped", reason="no non-raw memories found for this session")
    if reason not in ("manual_digest", "manual_rebuild") and not worth_a_digest(mems):
        return DigestResult(session_key, "skipped", material=len(mems),
                            reason="the session holds nothing a digest would add (one memory, or only prompts)")
    start_id, end_id = min(m.id for m in mems), max(m.id for m in mems)
    latest = store.latest_digest(ns.id, "short", session_key)
    latest_long = store.latest_digest(ns.id, "long", session_key)
    if latest and latest_long and latest.end_memory_id == end_id and reason != "manual_rebuild":
        return DigestResult(session_key, "unchanged", latest.memory_id, latest_long.memory_id, len(mems),
                            reason="no new memories since the last digest")
    if latest and not force:
        newer = [m for m in mems if m.id > (latest.end_memory_id or 0)]
        tokens = sum(estimate_tokens(m.content) for m in newer)
        if len(newer) < cfg.activity_distill_min_events and tokens < cfg.digest_short_target_tokens:
            return DigestResult(session_key, "skipped", latest.memory_id,
                                latest_long.memory_id if latest_long else None, len(mems),
                                reason=f"{len(newer)} new memories (~{tokens} tokens) are below the rollover bar")
    listing = "\n".join(f"({m.id}) {shorten(m.content, 800)}" for m in mems)
    answer = deps.llm_json("digest", SYSTEM_PROMPT,
                           f"Targets: short about {cfg.digest_short_target_tokens} tokens, long about "
                           f"{cfg.digest_long_target_tokens} tokens.\nSession {session_key} memories:\n{listing}",
                           max_tokens=4096, temperature=0.2, job_id=job_id)
    short = str(answer.get("short") or "").strip() if answer else ""
    long = str(answer.get("long") or "").strip() if answer else ""
    used_llm = bool(short or long)
    fb_short, fb_long = deterministic(mems, cfg.digest_short_target_tokens, cfg.digest_long_target_tokens)
    short = shorten(short, cfg.digest_short_target_tokens * 4) if short else fb_short
    long = shorten(long, cfg.digest_long_target_tokens * 4) if long else fb_long
    perspective = PerspectiveKey(ns.name, ns.name, session_key)
    project = _project(mems)
    day = min((m.created_at for m in mems if m.created_at), default=None)
    where = f" in {project['project']}" if project.get("project") else ""
    when = f" of {day.date().isoformat()}" if day else ""
    ids: dict[str, int] = {}
    for kind, text, level in (("short", short, CognitiveLevel.SUMMARY_SHORT),
                              ("long", long, CognitiveLevel.SUMMARY_LONG)):
        cog = cognitive(level, perspective, "digest", confidence=0.8, generated_by="digest_service",
                        sources=[m.id for m in mems], now=deps.clock())
        content = f"Session{when}{where} ({kind} digest): {text}"
        new = new_memory(ns.name, content, cog, category=MemoryCategory.SESSION, lane=MemoryLaneType.EXPLICIT,
                         labels=["digest", f"summary_{kind}"],
                         extra={"hook": project, "digest": {"session_key": session_key}} if project else
                         {"digest": {"session_key": session_key}})
        memory = store.store_with_lineage(new, [m.id for m in mems], EvidenceRole.DIGESTED_FROM.value).memory
        row = store.upsert_digest(SessionDigest(
            namespace_id=ns.id, session_key=session_key, digest_kind=kind, memory_id=memory.id,
            start_memory_id=start_id, end_memory_id=end_id, token_count=len(text.split()),
        ))
        previous = store.list_digests(ns.id, session_key, limit=20)
        store.prune_digests(ns.id, session_key, kind, keep_id=row.id or 0)
        for old in previous:
            if old.digest_kind == kind and old.memory_id != memory.id:
                _archive(deps, old.memory_id)
        ids[kind] = memory.id
    return DigestResult(session_key, "created", ids["short"], ids["long"], len(mems), used_llm=used_llm)


def _archive(deps: StageDeps, memory_id: int) -> None:
    from nexus_memory.domain.models import MemoryPatch

    if deps.store.get(memory_id) is not None:
        deps.store.update(memory_id, MemoryPatch(is_active=False, is_archived=True))
