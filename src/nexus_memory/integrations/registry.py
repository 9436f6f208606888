"""The eight agent tools `nexus hooks` installs into, by canonical name."""

from __future__ import annotations

import importlib

from nexus_memory.domain.agents import SUPPORTED_AGENTS, canonicalize_agent_type
from nexus_memory.errors import InvalidInput
from nexus_memory.integrations.base_tool import HookTool

_MODULES = {
    "claude-code": "claude_code", "gemini": "gemini", "qwen": "qwen", "codex": "codex",
    "opencode": "opencode", "droid": "droid", "cursor": "cursor", "copilot": "copilot",
}


def tool(name: str) -> HookTool:
    canonical = canonicalize_agent_type(name.strip())
    module = _MODULES.get(canonical)
    if module is None:
        raise InvalidInput(f"unknown agent tool '{name}'", hint=f"use one of: all, {', '.join(SUPPORTED_AGENTS)}")
    found: HookTool = importlib.import_module(f"nexus_memory.integrations.{module}").TOOL
    return found


def tools(selection: str) -> list[HookTool]:
    if selection.strip().lower() == "all":
        return [tool(n) for n in SUPPORTED_AGENTS]
    return [tool(n) for n in selection.split(",") if n.strip()]
