"""Helpers for cognition tests: store memories with a session, a time and a level."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

from nexus_memory.app import App
from nexus_memory.domain.enums import CognitiveLevel, MemoryCategory
from nexus_memory.domain.models import Memory
from nexus_memory.services.memories import StoreRequest


def put(app: App, content: str, *, agent: str = "claude-code", session: str | None = None,
        at: datetime | None = None, level: CognitiveLevel = CognitiveLevel.EXPLICIT, labels: tuple[str, ...] = (),
        category: MemoryCategory = MemoryCategory.GENERAL, confidence: float | None = None,
        metadata: dict[str, Any] | None = None) -> Memory:
    new = app.memories.build(StoreRequest(content=content, agent=agent, session_key=session, level=level,
                                          labels=labels, category=category, confidence=confidence,
                                          metadata=metadata))
    if at is not None:
        new = replace(new, created_at=at)
    return app.store.store(new).memory


def raw_event(app: App, i: int, *, agent: str = "claude-code", session: str = "s-raw",
              tool: str = "Bash", cwd: str = "/work/proj") -> Memory:
    """A raw-activity memory shaped like the hook path stores it (upstream 7.3 step 4)."""
    meta = {"raw_activity": {"agent": agent, "event_name": "PostToolUse", "session_key": session,
                             "derived_session_key": session, "cwd": cwd, "tool_name": tool,
                             "captured_at": f"2026-11-25T10:{i:02d}:00Z", "distill_pending": True}}
    return put(app, f"Tool '{tool}' executed:\nInput: ls step {i}\nResult: ok {i}", agent=agent, session=session,
               level=CognitiveLevel.RAW, labels=("session", "raw-activity", "distill-pending", "PostToolUse"),
               category=MemoryCategory.SESSION, confidence=0.35, metadata=meta)
