"""soul.md (reference 5.17): a short, global statement of durable preferences and learnings.

Global by design: it never holds project paths, session ids or forced traits.
Deterministic by default: candidates are memories that proved durable (stated as
preferences or decisions, reinforced, or seen in two or more sessions or
projects); an LLM, when configured and within budget, may normalise them first.
The previous file is kept as `soul.md.bak`; the new one is written tmp + rename.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nexus_memory.cognition.base import StageDeps, shorten
from nexus_memory.cognition.files import atomic_write
from nexus_memory.domain.budget import SOUL_BUDGET_TOKENS
from nexus_memory.domain.enums import CognitiveLevel, MemoryCategory, MemoryLaneType
from nexus_memory.domain.models import Memory, MemoryFilter
from nexus_memory.domain.ranking import estimate_tokens, is_superseded

HEADER = "# Nexus Soul"
SECTIONS = {
    "IdentityPreference": "## Identity & Preferences",
    "TechnicalLearning": "## Technical Learnings",
    "WorkingPattern": "## Working Patterns",
    "AgentNote": "## Agent Notes",
}
MIN_CONFIDENCE = 0.70
_PATH = re.compile(r"(?:(?<=\s)|^)(?:~|\.{1,2})?/[\w.@%+=:,-]+(?:/[\w.@%+=:,-]*)+")
_WINPATH = re.compile(r"\b[A-Za-z]:\\[^\s]+")
_SESSION = re.compile(r"\b(?:derived-[0-9a-f]{8,}|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\b", re.I)
_SESSION_TAG = re.compile(r"\[?session:[^\]\s]+\]?", re.I)
SYSTEM_PROMPT = (
    "Normalise candidate observations about a developer into durable, project-independent traits. Drop anything "
    "tied to one project, path or session. Answer with JSON only: {\"normalized\": [{\"content\": str, "
    "\"category\": \"IdentityPreference\"|\"TechnicalLearning\"|\"WorkingPattern\"|\"AgentNote\", "
    "\"confidence\": 0..1, \"observation_count\": int}], \"discarded_count\": int}."
)


def soul_path(config_dir: Path) -> Path:
    return config_dir / "soul.md"


def scrub(text: str) -> str:
    """Remove project paths and session ids; collapse whitespace."""
    text = _SESSION_TAG.sub("", text)
    text = _SESSION.sub("", text)
    text = _WINPATH.sub("", text)
    text = _PATH.sub("", text)
    return " ".join(text.split()).strip(" ,;:-")


def category_of(m: Memory) -> str:
    lane = m.memory_lane_type
    if m.category is MemoryCategory.PREFERENCES:
        return "IdentityPreference"
    if lane in (MemoryLaneType.PROCEDURAL, MemoryLaneType.WORKFLOW_NOTE, MemoryLaneType.PATTERN_SEED):
        return "WorkingPattern"
    if lane in (MemoryLaneType.CROSS_AGENT, MemoryLaneType.COLLECTIVE):
        return "AgentNote"
    return "TechnicalLearning"


@dataclass
class SoulCandidate:
    content: str
    category: str
    confidence: float
    observations: int
    sources: list[int] = field(default_factory=list)


def _projects(m: Memory) -> set[str]:
    out = set()
    for key in ("runtime", "raw_activity", "hook"):
        section = m.metadata.get(key)
        if isinstance(section, dict):
            for name in ("project_name", "project_root", "cwd"):
                if section.get(name):
                    out.add(str(section[name]))
    return out


def candidates(deps: StageDeps, agents: Sequence[str] | None = None, limit: int = 2000) -> list[SoulCandidate]:
    """Durable memories across every agent: preferences and decisions, reinforced or repeated statements."""
    rows = deps.store.list_memories(
        MemoryFilter(agents=tuple(agents) if agents else None,
                     levels=(CognitiveLevel.EXPLICIT, CognitiveLevel.DERIVED)),
        limit=limit, order="newest")
    groups: dict[str, SoulCandidate] = {}
    for m in rows:
        if {"runtime", "digest", "raw-activity"} & set(m.labels) or is_superseded(m):
            continue
        cog = m.cognitive
        conf = cog.confidence if cog and cog.confidence is not None else 0.75
        sessions = set(cog.session_keys) if cog else set()
        durable = (m.category is MemoryCategory.PREFERENCES
                   or (m.memory_lane_type is not None and (m.memory_lane_type.priority_level or 9) <= 2)
                   or (cog is not None and cog.times_reinforced >= 1) or len(sessions) >= 2
                   or len(_projects(m)) >= 2)
        if not durable or conf < MIN_CONFIDENCE or "reflection" in m.labels:
            continue
        text = scrub(m.content)
        if len(text) < 12:
            continue
        key = text.casefold()
        found = groups.get(key)
        if found:
            found.observations += 1
            found.sources.append(m.id)
        else:
            groups[key] = SoulCandidate(text, category_of(m), conf, 1 + (cog.times_reinforced if cog else 0), [m.id])
    return sorted(groups.values(), key=lambda c: (-c.observations, -c.confidence, c.content))


def _normalise_with_llm(deps: StageDeps, cands: list[SoulCandidate]) -> list[SoulCandidate] | None:
    listing = "\n".join(f"- ({c.category}, seen {c.observations}x) {c.content}" for c in cands[:80])
    answer = deps.llm_json("soul", SYSTEM_PROMPT, listing, max_tokens=2048, temperature=0.2)
    if not answer or not isinstance(answer.get("normalized"), list):
        return None
    out = []
    for item in answer["normalized"]:
        if not isinstance(item, dict):
            continue
        try:
            conf = float(item.get("confidence", 0))
        except (TypeError, ValueError):
            continue
        text = scrub(str(item.get("content") or ""))
        cat = str(item.get("category") or "TechnicalLearning")
        if conf >= MIN_CONFIDENCE and text:
            out.append(SoulCandidate(text, cat if cat in SECTIONS else "TechnicalLearning", conf,
                                     int(item.get("observation_count") or 1)))
    return out


def render(cands: Sequence[SoulCandidate], budget_tokens: int = SOUL_BUDGET_TOKENS) -> str:
    lines = [HEADER, "", "Durable preferences and learnings, shared by every agent. Generated by Nexus; "
             "edit freely, a rebuild keeps a backup.", ""]
    used = estimate_tokens("\n".join(lines))
    for cat, heading in SECTIONS.items():
        items = [c for c in cands if c.category == cat]
        if not items:
            continue
        block = [heading, ""]
        for c in items:
            line = f"- {shorten(c.content, 300)}"
            if used + estimate_tokens("\n".join([*block, line])) > budget_tokens:
                break
            block.append(line)
        if len(block) > 2:
            lines += [*block, ""]
            used += estimate_tokens("\n".join(block))
    return "\n".join(lines).rstrip() + "\n"


@dataclass
class SoulResult:
    path: str
    written: bool
    candidates: int
    used_llm: bool
    tokens: int
    reason: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "written": self.written, "candidates": self.candidates,
                "used_llm": self.used_llm, "tokens": self.tokens, "reason": self.reason}


def rebuild_soul(deps: StageDeps, config_dir: Path, agents: Sequence[str] | None = None) -> SoulResult:
    path = soul_path(config_dir)
    cands = candidates(deps, agents)
    if not cands:
        return SoulResult(str(path), False, 0, False, 0, "no durable memories yet; the current soul is kept")
    normalised = _normalise_with_llm(deps, cands)
    used_llm = bool(normalised)
    text = render(normalised if normalised else cands)
    if HEADER not in text or len(text) < 50:
        return SoulResult(str(path), False, len(cands), used_llm, 0, "the new soul failed its checks; kept the old")
    if path.exists():
        shutil.copy2(path, path.with_name("soul.md.bak"))
    atomic_write(path, text)
    return SoulResult(str(path), True, len(cands), used_llm, estimate_tokens(text))


def read_soul(config_dir: Path) -> str | None:
    try:
        return soul_path(config_dir).read_text(encoding="utf-8")
    except OSError:
        return None
