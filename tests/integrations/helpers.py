"""Shared helpers for the hook-path tests: run a hook in-process, read what was stored."""

from __future__ import annotations

import json
import time
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


def hook_command(event: str, payload: dict[str, Any], env: dict[str, str] | None = None) -> dict[str, Any]:
    """Run one Claude Code hook event through the real `nexus hook` command (no server on the port)."""
    from tests.conftest import run_nexus

    r = run_nexus("hook", "claude-code", event, input=json.dumps(payload), env={"NEXUS_PORT": "9", **(env or {})})
    assert r.returncode == 0, r.stderr
    out: dict[str, Any] = json.loads(r.stdout or "{}")
    return out


def stored(text: str, timeout: float = 60) -> bool:
    """Whether a memory holding `text` is stored within `timeout` seconds (the detached worker stores it)."""
    from tests.conftest import run_nexus

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        listed = json.loads(run_nexus("list", "--limit", "50", "--json").stdout)["memories"]
        if any(text in str(m["content"]) for m in listed):
            return True
        time.sleep(0.3)
    return False


def validate_codex(instance: Any, name: str) -> None:
    s = json.loads((SCHEMAS / "codex" / "hooks" / f"{name}.schema.json").read_text())
    jsonschema.Draft7Validator(s).validate(instance)
