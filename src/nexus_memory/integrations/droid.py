"""Factory Droid: Claude-compatible hooks (seconds) in `hooks.json`, MCP in `mcp.json`.

The shipped CLI (`@factory/cli` 0.225, binary `droid`) reads `~/.factory/hooks.json` with the event
names at the top level; only `settings.json` nests them under `"hooks"`. A nested `hooks.json` is
ignored with the log line `Ignoring unknown hook event keys ... keys:["hooks"]`, so no hook fires.
Earlier versions of this installer wrote that nested shape: install moves our entries out of it.
`droid exec` (headless) fires SessionStart, PostToolUse, Stop and SessionEnd, not UserPromptSubmit.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from nexus_memory.integrations import installer as ins
from nexus_memory.integrations.base_tool import HookTool, argv0
from nexus_memory.integrations.installer import Change, EventSpec, Manifest, Target
from nexus_memory.integrations.settings_file import load_json


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
    capabilities = {"capture": "yes", "session_context": "yes", "prompt_context": "partial",
                    "compaction_recovery": "partial", "mcp": "yes"}

    def user_dir(self, t: Target) -> Path:
        return t.home / ".factory"

    def hooks_file(self, t: Target) -> Path:
        """`hooks.json`, unless only `settings.json` holds hooks (a new hooks.json would shadow them)."""
        base = self.base(t)
        hooks_json, settings = base / "hooks.json", base / "settings.json"
        if not hooks_json.exists():
            try:
                if "hooks" in load_json(settings.read_text(encoding="utf-8")):
                    return settings
            except (OSError, ValueError, TypeError):
                pass
        return hooks_json

    def hooks_container(self, t: Target) -> tuple[str, ...]:
        return () if self.hooks_file(t).name == "hooks.json" else ("hooks",)

    def install(self, t: Target, manifest: Manifest) -> list[Change]:
        legacy = self.hooks_file(t)
        nested = _read(legacy).get("hooks") if legacy.name == "hooks.json" else None
        if isinstance(nested, dict):
            # our old nested shape, which Droid ignores: take our entries out, and the containers they
            # leave empty (nothing under "hooks" in this file is read, so an emptied one serves no one)
            manifest.record(legacy, created_file=False, created=[["hooks"], *(["hooks", e] for e in nested)])
            ins.uninstall_hooks(legacy, manifest, [], ("hooks",))
        return super().install(t, manifest)

    def mcp_file(self, t: Target) -> Path:
        return self.base(t) / "mcp.json"

    def mcp_value(self, t: Target) -> dict[str, Any]:
        return {"type": "stdio", "command": argv0(t), "args": ["mcp"]}

    def context_file(self, t: Target) -> Path:
        return (self.user_dir(t) if t.scope == "user" else t.project) / "AGENTS.md"

    def extra_notes(self, t: Target) -> list[str]:
        return ["per-prompt context: Droid's UserPromptSubmit hook does not fire in headless `droid exec`, so runs "
                "there get the session-start context only (the interactive droid gets both)",
                "compaction: PreCompact is captured; Droid documents no re-injection point after compaction"]


def _read(path: Path) -> dict[str, Any]:
    try:
        data = load_json(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


TOOL = Droid()
