"""Cursor (agent CLI and editor): flat `hooks.json` (version 1), MCP in `mcp.json`.

Cursor cannot add context per prompt (beforeSubmitPrompt can only allow or block);
`sessionStart` with `additional_context` exists only in 2026 builds (PARTIAL in the reference).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from nexus_memory.integrations.base_tool import HookTool
from nexus_memory.integrations.installer import EventSpec, Target


class Cursor(HookTool):
    name = "cursor"
    display = "Cursor"
    binaries = ("cursor-agent", "cursor")
    events = tuple(EventSpec(e) for e in ("sessionStart", "beforeSubmitPrompt", "afterShellExecution",
                                          "afterMCPExecution", "afterFileEdit", "afterAgentResponse", "stop",
                                          "sessionEnd"))
    capabilities = {"capture": "yes", "session_context": "partial", "prompt_context": "no",
                    "compaction_recovery": "no", "mcp": "yes"}
    top = {"version": 1}

    def user_dir(self, t: Target) -> Path:
        return t.home / ".cursor"

    def hooks_file(self, t: Target) -> Path:
        return self.base(t) / "hooks.json"

    def group(self, t: Target, spec: EventSpec) -> dict[str, Any]:
        return {"command": t.hook_command(self.name, spec.event)}

    def mcp_file(self, t: Target) -> Path:
        return self.base(t) / "mcp.json"

    def trust_notes(self, t: Target) -> list[str]:
        return ["project hooks run only in a trusted workspace"] if t.scope == "project" else []

    def extra_notes(self, t: Target) -> list[str]:
        return ["session context needs a Cursor build with the sessionStart hook (2026); per-prompt context is "
                "not possible in Cursor: use the nexus-memory MCP tools"]


TOOL = Cursor()
