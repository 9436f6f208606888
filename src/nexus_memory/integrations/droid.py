"""Factory Droid: Claude-compatible hooks (seconds) in `hooks.json`, MCP in `mcp.json`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from nexus_memory.integrations.base_tool import HookTool, argv0
from nexus_memory.integrations.installer import EventSpec, Target


class Droid(HookTool):
    name = "droid"
    display = "Factory Droid"
    binaries = ("droid",)
    events = (
        EventSpec("SessionStart", None, 15),
        EventSpec("UserPromptSubmit", None, 15),
        EventSpec("PostToolUse", "*", 15),
        EventSpec("Stop", None, 15),
        EventSpec("PreCompact", None, 15),
        EventSpec("SessionEnd", None, 5),
    )
    capabilities = {"capture": "yes", "session_context": "yes", "prompt_context": "yes",
                    "compaction_recovery": "partial", "mcp": "yes"}

    def user_dir(self, t: Target) -> Path:
        return t.home / ".factory"

    def hooks_file(self, t: Target) -> Path:
        """`hooks.json`, unless only `settings.json` holds hooks (a new hooks.json would shadow them)."""
        base = self.base(t)
        hooks_json, settings = base / "hooks.json", base / "settings.json"
        if not hooks_json.exists():
            try:
                if "hooks" in json.loads(settings.read_text(encoding="utf-8")):
                    return settings
            except (OSError, ValueError, TypeError):
                pass
        return hooks_json

    def mcp_file(self, t: Target) -> Path:
        return self.base(t) / "mcp.json"

    def mcp_value(self, t: Target) -> dict[str, Any]:
        return {"type": "stdio", "command": argv0(t), "args": ["mcp"]}

    def context_file(self, t: Target) -> Path:
        return (self.user_dir(t) if t.scope == "user" else t.project) / "AGENTS.md"

    def extra_notes(self, t: Target) -> list[str]:
        return ["compaction: PreCompact is captured; Droid documents no re-injection point after compaction"]


TOOL = Droid()
