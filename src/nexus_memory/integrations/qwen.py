"""Qwen Code: a Gemini CLI fork with Claude event names; Gemini-style named handlers (milliseconds),
MCP in the same settings.json, QWEN.md as its context file."""

from __future__ import annotations

from pathlib import Path

from nexus_memory.integrations.gemini import Gemini, folder_trust_notes
from nexus_memory.integrations.installer import EventSpec, Target


class Qwen(Gemini):
    name = "qwen"
    display = "Qwen Code"
    binaries = ("qwen",)
    events = (
        EventSpec("SessionStart", "startup|resume|clear|compact", 10_000),
        EventSpec("UserPromptSubmit", None, 10_000),
        EventSpec("PostToolUse", ".*", 10_000),
        EventSpec("PostToolUseFailure", ".*", 10_000),
        EventSpec("Stop", None, 10_000),
        EventSpec("PreCompact", None, 10_000),
        EventSpec("PostCompact", None, 10_000),
        EventSpec("SessionEnd", None, 5_000),
    )
    capabilities = {"capture": "yes", "session_context": "yes", "prompt_context": "yes",
                    "compaction_recovery": "yes", "mcp": "yes"}

    def user_dir(self, t: Target) -> Path:
        return t.home / ".qwen"

    def context_file(self, t: Target) -> Path:
        return (self.user_dir(t) if t.scope == "user" else t.project) / "QWEN.md"

    def trust_notes(self, t: Target) -> list[str]:
        return folder_trust_notes(t, self.user_dir(t), "qwen", "QWEN_CODE_TRUST_WORKSPACE")

    def extra_notes(self, t: Target) -> list[str]:
        return []


TOOL = Qwen()
