"""Gemini CLI: `settings.json` hooks (milliseconds, named handlers), MCP in the same file, GEMINI.md block."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from nexus_memory.integrations.base_tool import HookTool, argv0
from nexus_memory.integrations.installer import HANDLER_PREFIX, EventSpec, Target
from nexus_memory.integrations.settings_file import load_json


def folder_trust_notes(t: Target, user_dir: Path, tool: str, env_var: str | None, *, default_enabled: bool = True,
                       skipped: str = "all hooks") -> list[str]:
    """Gemini skips every settings hook in a folder that is not trusted (folder trust is on by default);
    Qwen skips the project's settings, hooks included, when folder trust is on (off by default)."""
    try:
        settings = load_json((user_dir / "settings.json").read_text(encoding="utf-8"))
        enabled = settings.get("security", {}).get("folderTrust", {}).get("enabled", default_enabled)
    except (OSError, ValueError, AttributeError):
        enabled = default_enabled
    if enabled is False or (env_var and t.env.get(env_var, "").lower() == "true"):
        return []
    try:
        trusted = json.loads((user_dir / "trustedFolders.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        trusted = {}
    folder = str(t.project)
    if isinstance(trusted, dict) and any(folder == k or folder.startswith(k.rstrip("/") + "/")
                                         for k, v in trusted.items() if str(v).upper().startswith("TRUST")):
        return []
    how = f"start {tool} there and trust the folder" + (f", or set {env_var}=true" if env_var else "")
    return [f"folder trust: {tool} skips {skipped} in folders you have not trusted, and {folder} is not in "
            f"{user_dir / 'trustedFolders.json'}; {how}"]


class Gemini(HookTool):
    name = "gemini"
    display = "Gemini CLI"
    binaries = ("gemini",)
    events: tuple[EventSpec, ...] = (
        EventSpec("SessionStart", "*", 10_000),
        EventSpec("BeforeAgent", None, 10_000),
        EventSpec("AfterTool", ".*", 10_000),
        EventSpec("AfterAgent", None, 10_000),
        EventSpec("PreCompress", None, 10_000),
        EventSpec("SessionEnd", "*", 5_000),
    )
    capabilities = {"capture": "yes", "session_context": "yes", "prompt_context": "yes",
                    "compaction_recovery": "partial", "mcp": "yes"}

    def user_dir(self, t: Target) -> Path:
        home = t.env.get("GEMINI_CLI_HOME")
        return (Path(home).expanduser() if home else t.home) / ".gemini"

    def hooks_file(self, t: Target) -> Path:
        return self.base(t) / "settings.json"

    def handler(self, t: Target, spec: EventSpec) -> dict[str, Any]:
        return {"name": f"{HANDLER_PREFIX}-{spec.event}", "type": "command",
                "command": t.hook_command(self.name, spec.event), "timeout": spec.timeout}

    def mcp_file(self, t: Target) -> Path:
        return self.hooks_file(t)

    def mcp_value(self, t: Target) -> dict[str, Any]:
        return {"command": argv0(t), "args": ["mcp"], "timeout": 30_000, "trust": False}

    def context_file(self, t: Target) -> Path:
        return (self.user_dir(t) if t.scope == "user" else t.project) / "GEMINI.md"

    def trust_notes(self, t: Target) -> list[str]:
        notes = folder_trust_notes(t, self.user_dir(t), "gemini", "GEMINI_CLI_TRUST_WORKSPACE")
        if t.scope == "project":
            notes.append("project hooks are fingerprinted: Gemini warns once about new or changed nexus-memory "
                         "hooks, then records them in trusted_hooks.json")
        return notes

    def extra_notes(self, t: Target) -> list[str]:
        return ["compaction: PreCompress is advisory; after it, memories injected earlier become eligible again "
                "for per-prompt recall"]


TOOL = Gemini()
