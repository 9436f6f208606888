"""Claude Code: `settings.json` hooks (seconds), MCP in `~/.claude.json` or `.mcp.json`, CLAUDE.md block."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from nexus_memory.integrations.base_tool import HookTool, argv0
from nexus_memory.integrations.installer import EventSpec, Target


class ClaudeCode(HookTool):
    name = "claude-code"
    display = "Claude Code"
    binaries = ("claude",)
    events = (
        EventSpec("SessionStart", "startup|resume|clear|compact", 15),
        EventSpec("UserPromptSubmit", None, 15),
        EventSpec("PostToolUse", "*", 15),
        EventSpec("PostToolUseFailure", "*", 15),
        EventSpec("Stop", None, 15),
        EventSpec("PreCompact", None, 15),
        EventSpec("PostCompact", None, 15),
        EventSpec("SessionEnd", None, 5),
    )
    capabilities = {"capture": "yes", "session_context": "yes", "prompt_context": "yes",
                    "compaction_recovery": "yes", "mcp": "yes"}

    def user_dir(self, t: Target) -> Path:
        return t.env_dir("CLAUDE_CONFIG_DIR", t.home / ".claude")

    def hooks_file(self, t: Target) -> Path:
        return self.base(t) / "settings.json"

    def handler(self, t: Target, spec: EventSpec) -> dict[str, Any]:
        h = super().handler(t, spec)
        if spec.event in ("PostToolUse", "PostToolUseFailure"):
            h["async"] = True  # capture only: never make Claude wait for it
        return h

    def mcp_file(self, t: Target) -> Path:
        if t.scope == "project":
            return t.project / ".mcp.json"
        config_dir = t.env.get("CLAUDE_CONFIG_DIR")
        return (Path(config_dir).expanduser() if config_dir else t.home) / ".claude.json"

    def mcp_value(self, t: Target) -> dict[str, Any]:
        return {"type": "stdio", "command": argv0(t), "args": ["mcp"], "env": {}}

    def context_file(self, t: Target) -> Path:
        return (self.user_dir(t) if t.scope == "user" else t.project) / "CLAUDE.md"

    def trust_notes(self, t: Target) -> list[str]:
        if t.scope == "project":
            return ["project MCP servers in .mcp.json need approval: Claude Code asks on the first interactive "
                    "start in this folder (claude -p loads them without asking)"]
        return []


TOOL = ClaudeCode()
