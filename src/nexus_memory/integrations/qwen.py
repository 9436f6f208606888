"""Qwen Code: a Gemini CLI fork with Claude event names; Gemini-style named handlers, MCP in the same
settings.json, QWEN.md as its context file.

From the shipped package's own hooks doc (`bundled/qc-helper/docs/features/hooks.md`, 0.24.4): a
command hook's `timeout` is in seconds (a value of 1000 or more is still read as milliseconds, for old
settings); user hooks load whatever the folder trust, project hooks only in a trusted folder.
"""

from __future__ import annotations

from pathlib import Path

from nexus_memory.integrations.gemini import Gemini, folder_trust_notes
from nexus_memory.integrations.installer import EventSpec, Target


class Qwen(Gemini):
    name = "qwen"
    display = "Qwen Code"
    binaries = ("qwen",)
    events = (
        EventSpec("SessionStart", "startup|resume|clear|compact", 10),
        EventSpec("UserPromptSubmit", None, 10),
        EventSpec("PostToolUse", ".*", 10),
        EventSpec("PostToolUseFailure", ".*", 10),
        EventSpec("Stop", None, 10),
        EventSpec("PreCompact", None, 10),
        EventSpec("PostCompact", None, 10),
        EventSpec("SessionEnd", None, 5),
    )
    capabilities = {"capture": "yes", "session_context": "yes", "prompt_context": "yes",
                    "compaction_recovery": "yes", "mcp": "yes"}

    def user_dir(self, t: Target) -> Path:
        return t.home / ".qwen"

    def context_file(self, t: Target) -> Path:
        return (self.user_dir(t) if t.scope == "user" else t.project) / "QWEN.md"

    def trust_notes(self, t: Target) -> list[str]:
        if t.scope != "project":
            return []  # user hooks load regardless of folder trust
        return folder_trust_notes(t, self.user_dir(t), "qwen", None, default_enabled=False,
                                  skipped="the project's .qwen/settings.json (our project hooks with it)")

    def extra_notes(self, t: Target) -> list[str]:
        return []


TOOL = Qwen()
