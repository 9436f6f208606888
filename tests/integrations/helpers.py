"""Shared helpers for the hook-path tests: run a hook in-process, read what was stored."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema

from nexus_memory.app import build_app
from nexus_memory.config import load_settings
from nexus_memory.domain.models import Memory, MemoryFilter
from nexus_memory.integrations.hook import HookInput, run

SCHEMAS = Path(__file__).resolve().parents[1] / "data" / "schemas"


def hook(agent: str, event: str | None, payload: Any, **kw: Any) -> dict[str, Any]:
    stdin = payload if isinstance(payload, str) else json.dumps(payload)
    out = run(HookInput(agent=agent, event=event, stdin=stdin, settings=load_settings(), sync=True, **kw))
    parsed: dict[str, Any] = json.loads(out)
    return parsed


def memories(**flt: Any) -> list[Memory]:
    app = build_app(load_settings(), embeddings=False, cognition=False)
    try:
        return app.memories.list_memories(MemoryFilter(include_raw=True, include_bookkeeping=True, **flt), limit=1000,
                                          order="oldest")
    finally:
        app.close()


def sources_of(memory_id: int) -> list[int]:
    """The ids a derived memory was made from (its lineage)."""
    app = build_app(load_settings(), embeddings=False, cognition=False)
    try:
        return sorted(e.source_memory_id for e in app.store.lineage(memory_id))
    finally:
        app.close()


def contents(**flt: Any) -> list[str]:
    return [m.content for m in memories(**flt)]


def context_of(out: dict[str, Any]) -> str:
    return str(out.get("hookSpecificOutput", {}).get("additionalContext", ""))


def validate_codex(instance: Any, name: str) -> None:
    s = json.loads((SCHEMAS / "codex" / "hooks" / f"{name}.schema.json").read_text())
    jsonschema.Draft7Validator(s).validate(instance)
