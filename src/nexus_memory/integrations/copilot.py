"""GitHub Copilot CLI: our own hooks file (timeoutSec), MCP in `mcp-config.json`.

Context goes back as a top-level `{"additionalContext": ...}` from sessionStart and
userPromptSubmitted (shipped changelog 1.0.11 and 1.0.65, `copilot-sdk/types.d.ts`); the real CLI
(1.0.102) puts it into the model request, also headless (`copilot -p`) and with BYOK providers.
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
    capabilities = {"capture": "yes", "session_context": "yes", "prompt_context": "yes",
                    "compaction_recovery": "no", "mcp": "yes"}
    top = {"version": 1}

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
        notes = ["compaction: preCompact is captured; Copilot's hooks offer no re-injection point after it"]
        if t.scope == "project":
            notes.append("MCP is configured per user: also run `nexus hooks install --agent copilot --scope user`")
        return notes


TOOL = Copilot()
