"""OpenCode: an in-process plugin file (JS, run by Bun) plus the MCP server in `opencode.json`."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any

from nexus_memory.integrations import installer as ins
from nexus_memory.integrations.base_tool import HookTool, argv0
from nexus_memory.integrations.installer import Change, Manifest, Target, ToolStatus


def plugin_source(t: Target) -> str:
    template = resources.files("nexus_memory.integrations").joinpath("opencode_plugin.js").read_text("utf-8")
    return template.replace("__NEXUS__", json.dumps(argv0(t)))


class OpenCode(HookTool):
    name = "opencode"
    display = "OpenCode"
    binaries = ("opencode",)
    capabilities = {"capture": "yes", "session_context": "yes", "prompt_context": "yes",
                    "compaction_recovery": "yes", "mcp": "yes"}
    mcp_keys = ("mcp",)

    def user_dir(self, t: Target) -> Path:
        config = t.env.get("XDG_CONFIG_HOME")
        return (Path(config).expanduser() if config else t.home / ".config") / "opencode"

    def hooks_file(self, t: Target) -> None:
        return None

    def plugin_file(self, t: Target) -> Path:
        base = self.user_dir(t) if t.scope == "user" else t.project / ".opencode"
        return base / "plugins" / "nexus-memory.js"

    def mcp_file(self, t: Target) -> Path:
        return (self.user_dir(t) if t.scope == "user" else t.project) / "opencode.json"

    def mcp_value(self, t: Target) -> dict[str, Any]:
        return {"type": "local", "command": [argv0(t), "mcp"], "enabled": True}

    def context_file(self, t: Target) -> Path:
        return (self.user_dir(t) if t.scope == "user" else t.project) / "AGENTS.md"

    def install(self, t: Target, manifest: Manifest) -> list[Change]:
        changes: list[Change] = []
        ins.install_owned(self.plugin_file(t), plugin_source(t), manifest, changes, "plugin")
        return changes + super().install(t, manifest)

    def uninstall(self, t: Target, manifest: Manifest) -> list[Change]:
        changes: list[Change] = []
        ins.uninstall_owned(self.plugin_file(t), manifest, changes)
        return changes + super().uninstall(t, manifest)

    def status(self, t: Target) -> ToolStatus:
        st = super().status(t)
        text = ins.read_text(self.plugin_file(t)) or ""
        plugin = ins.HANDLER_PREFIX in text
        mcp = st.capabilities["mcp"] == "yes"
        for cap in ("capture", "session_context", "prompt_context", "compaction_recovery"):
            st.capabilities[cap] = "yes" if plugin else "yes (not installed)"
        st.installed = "yes" if plugin and mcp else ("partial" if plugin or mcp else "no")
        st.files.insert(0, str(self.plugin_file(t)))
        st.notes = [] if st.installed == "no" else ["the plugin uses OpenCode's experimental system/compaction "
                                                    "hooks; restart OpenCode to load it"]
        return st


TOOL = OpenCode()
