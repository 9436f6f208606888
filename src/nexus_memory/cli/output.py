"""Rendering helpers shared by the command modules."""

from __future__ import annotations

import json
import sys
from typing import Any

from nexus_memory.domain.models import Memory


def emit_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, ensure_ascii=False, indent=2, default=str) + "\n")


def short(text: str, width: int = 300) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def memory_line(m: Memory, width: int = 300) -> str:
    created = m.created_at.strftime("%Y-%m-%d %H:%M") if m.created_at else "?"
    labels = f" [{', '.join(m.labels)}]" if m.labels else ""
    return f"#{m.id} {m.agent} · {m.category.value} · {m.level().value} · {created}{labels}\n    {short(m.content, width)}"


def memory_detail(m: Memory) -> str:
    cog = m.cognitive
    lines = [
        f"Memory #{m.id}",
        f"  agent:      {m.agent}",
        f"  category:   {m.category.value}",
        f"  lane:       {m.memory_lane_type.value if m.memory_lane_type else '-'}",
        f"  level:      {m.level().value}",
        f"  labels:     {', '.join(m.labels) or '-'}",
        f"  session:    {m.session_key or '-'}",
        f"  created:    {m.created_at.isoformat() if m.created_at else '-'}",
        f"  updated:    {m.updated_at.isoformat() if m.updated_at else '-'}",
        f"  active:     {m.is_active}   archived: {m.is_archived}   accessed: {m.access_count}x",
    ]
    if cog:
        lines.append(
            f"  cognitive:  observer={cog.observer} subject={cog.subject} confidence={cog.confidence} "
            f"reinforced={cog.times_reinforced} contradicted={cog.times_contradicted} source={cog.source_stage}"
        )
    lines.append("")
    lines.append(m.content)
    return "\n".join(lines)


def confirm(question: str) -> bool:
    if not sys.stdin.isatty():
        return False
    sys.stderr.write(f"{question} [y/N] ")
    sys.stderr.flush()
    answer = sys.stdin.readline().strip().lower()
    return answer in ("y", "yes")
