"""GitHub Copilot CLI: our own hooks file (timeoutSec), MCP in `mcp-config.json`, instructions file.

Copilot ignores hook output on sessionStart and userPromptSubmitted, so context reaches it
through the instructions file (which points at `.nexus/context.md`) and the MCP tools.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from nexus_memory.integrations.base_tool import HookTool, argv0
from nexus_memory.integrations.installer import EventSpec, Target


class Copilot(HookTool):
    name = "copilot"
    display = "Copilot CLI"
    binaries = ("copilot",)
    events = tuple(EventSpec(e, None, 10) for e in ("sessionStart", "userPromptSubmitted", "postToolUse",
                                                    "postToolUseFailure", "agentStop", "preCompact", "sessionEnd"))
    capabilities = {"capture": "yes", "session_context": "no", "prompt_context": "no",
                    "compaction_recovery": "no", "mcp": "yes"}
    top = {"version": 1}
    context_file_always = True

    def user_dir(self, t: Target) -> Path:
        return t.env_dir("COPILOT_HOME", t.home / ".copilot")

    def hooks_file(self, t: Target) -> Path:
        folder = self.user_dir(t) / "hooks" if t.scope == "user" else t.project / ".github" / "hooks"
        return folder / "nexus-memory.json"

    def group(self, t: Target, spec: EventSpec) -> dict[str, Any]:
        return {"type": "command", "bash": t.hook_command(self.name, spec.event), "timeoutSec": spec.timeout}

    def mcp_file(self, t: Target) -> Path | None:
        return self.user_dir(t) / "mcp-config.json" if t.scope == "user" else None

    def mcp_value(self, t: Target) -> dict[str, Any]:
        return {"type": "local", "command": argv0(t), "args": ["mcp"], "env": {}, "tools": ["*"]}

    def context_file(self, t: Target) -> Path:
        if t.scope == "user":
            return self.user_dir(t) / "copilot-instructions.md"
        return t.project / ".github" / "copilot-instructions.md"

    def extra_notes(self, t: Target) -> list[str]:
        notes = ["hooks capture only (Copilot ignores their output); context comes from the instructions file "
                 "and the nexus-memory MCP tools"]
        if t.scope == "project":
            notes.append("MCP is configured per user: also run `nexus hooks install --agent copilot --scope user`")
        return notes


TOOL = Copilot()
