"""`.nexus/context.md` (reference 5.14), built from the hot cache inside a token budget."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from nexus_memory.cognition.cache import HotCache
from nexus_memory.cognition.files import atomic_write
from nexus_memory.domain.ranking import estimate_tokens

HEADER = "# Nexus Project Context\n"


def _first_line(text: str) -> str:
    for line in text.splitlines():
        if line.strip():
            return line.strip()
    return ""


def build_context(cache: HotCache, budget_tokens: int, recalls: Sequence[tuple[int, str]] = ()) -> str:
    """Loud in full, Clear as first lines, Whisper truncated while under 80 %, then recalls if > 200 left."""
    parts = [HEADER]
    used = estimate_tokens(HEADER)

    def fits(text: str) -> bool:
        return used + estimate_tokens(text) <= budget_tokens

    entries = cache.by_relevance()
    sections = (("loud", "## High Relevance (Loud)\n", None), ("clear", "## Relevant (Clear)\n", "first"),
                ("whisper", "## Low Signal (Whisper)\n", "short"))
    stop = False
    for tier, heading, mode in sections:
        tier_entries = [e for e in entries if e.tier == tier]
        if not tier_entries or stop:
            continue
        if tier == "whisper" and used >= 0.8 * budget_tokens:
            continue
        block = [heading]
        for e in tier_entries:
            text = e.content.strip() if mode is None else _first_line(e.content)
            if mode == "short" and len(text) > 80:
                text = text[:77] + "..."
            piece = f"### Memory {e.memory_id}\n{text}\n\n"
            if tier == "whisper" and used + estimate_tokens("".join(block) + piece) >= 0.8 * budget_tokens:
                break
            if not fits("".join(block) + piece):
                if tier == "loud":
                    stop = True
                break
            block.append(piece)
        if len(block) > 1:
            text = "".join(block)
            parts.append("\n" + text)
            used += estimate_tokens(text)
    if recalls and budget_tokens - used > 200:
        block = ["\n## Recalled Memories\n"]
        for mid, content in recalls:
            line = f"- [Recall {mid}] {_first_line(content)}\n"
            if not fits("".join(block) + line):
                break
            block.append(line)
        if len(block) > 1:
            parts.append("".join(block))
    return "".join(parts).rstrip() + "\n"


def write_context(project_root: Path, text: str) -> Path:
    path = project_root / ".nexus" / "context.md"
    atomic_write(path, text)
    return path
