"""Agent identity and project paths (upstream reference 2.3, 2.4).

Every write goes through `canonicalize_agent_type`, so "claude" and
"claude-code" can never split into two namespaces (an upstream defect).
"""

from __future__ import annotations

import re

# Upstream table (2.3) plus the agent tools this project integrates with.
_ALIASES: dict[str, str] = {
    "claude": "claude-code",
    "claude-code": "claude-code",
    "claude_code": "claude-code",
    "claudecode": "claude-code",
    "pi": "pi-mono",
    "pi-mono": "pi-mono",
    "pimono": "pi-mono",
    "omp": "oh-my-pi",
    "oh-my-pi": "oh-my-pi",
    "ohmypi": "oh-my-pi",
    "amp": "amp",
    "codex": "codex",
    "codex-cli": "codex",
    "droid": "droid",
    "factory": "droid",
    "factory-cli": "droid",
    "factory-droid": "droid",
    "gemini": "gemini",
    "gemini-cli": "gemini",
    "gemini_cli": "gemini",
    "qwen": "qwen",
    "qwen-code": "qwen",
    "qwen_code": "qwen",
    "opencode": "opencode",
    "open-code": "opencode",
    "kilo": "opencode",
    "cursor": "cursor",
    "cursor-agent": "cursor",
    "cursor-cli": "cursor",
    "copilot": "copilot",
    "copilot-cli": "copilot",
    "github-copilot": "copilot",
    "gh-copilot": "copilot",
}

#: The agent tools `nexus hooks` can install into, by canonical name.
SUPPORTED_AGENTS: tuple[str, ...] = (
    "claude-code", "gemini", "qwen", "codex", "opencode", "droid", "cursor", "copilot",
)


def is_agent_name(word: str) -> bool:
    """Whether `word` names an agent tool ("Claude", "Codex", "Gemini", ...)."""
    return word.lower() in _ALIASES


def canonicalize_agent_type(agent_type: str) -> str:
    """Lowercase, then map known aliases; unknown names stay lowercased. Idempotent."""
    lowered = agent_type.lower()
    return _ALIASES.get(lowered, lowered)


_SLASH_RUN = re.compile(r"/{2,}")


def normalize_project_path(path: str) -> str:
    """Collapse runs of `/`, strip one trailing `/` unless the result is `/`. Nothing else."""
    collapsed = _SLASH_RUN.sub("/", path)
    if len(collapsed) > 1 and collapsed.endswith("/"):
        collapsed = collapsed[:-1]
    return collapsed


def validate_agent_name(agent_type: str) -> str:
    """Canonical name for a user-supplied agent, refusing names that cannot be namespaces."""
    from nexus_memory.errors import InvalidInput

    name = canonicalize_agent_type(agent_type.strip())
    if not name:
        raise InvalidInput("the agent name is empty", hint="pass --agent NAME, for example --agent claude-code")
    if len(name) > 128 or any(ch in name for ch in "\x00\n\r\t"):
        raise InvalidInput(
            f"the agent name '{agent_type[:40]}' is not usable",
            hint="use up to 128 printable characters, for example claude-code",
        )
    return name
