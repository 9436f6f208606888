"""How to drive each real agent CLI headless against the loopback model mock, and read its own log.

One `Driver` per tool: the settings that point it at the mock (a fake key that never leaves
127.0.0.1), the headless command line, and `fired()`, the hook events the tool itself says it ran
(its debug log, event log or telemetry; OpenCode has none, so our plugin's stored events stand in).
"""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path
from typing import Any

from tests.integrations.agent_cli import Sandbox, Session, cli_path, packages
from tests.integrations.model_mock import ModelMock

FAKE_KEY = "sk-nexus-test-not-a-key"


class Driver:
    tool = ""  # key in agent-clis.list
    agent = ""  # `nexus hooks install --agent` name
    #: hook events the tool must report in session 1 (its own names)
    events: frozenset[str] = frozenset()
    #: the per-prompt hook fires in this tool's headless mode
    prompt_hook = True
    #: how our MCP tool shows in the model request's tool list (None: the tool defers MCP tools)
    mcp_tool: str | None = "search_memories"

    def cli(self) -> Path:
        path, reason = cli_path(self.tool)
        assert path is not None, reason
        return path

    def prepare(self, box: Sandbox) -> None:
        """The user's own settings, there before `nexus hooks install` runs."""

    def configure(self, box: Sandbox, mock: ModelMock) -> None:
        """Tool settings beyond what `nexus hooks install` writes."""

    def home_env(self, box: Sandbox) -> dict[str, str]:
        """Variables that move the tool's config folder: `nexus hooks install` must see them too."""
        return {}

    def env(self, box: Sandbox, mock: ModelMock, n: int) -> dict[str, str]:
        return {}

    def argv(self, box: Sandbox, prompt: str, n: int) -> list[str]:
        raise NotImplementedError

    def fired(self, box: Sandbox, session: Session, n: int) -> set[str]:
        raise NotImplementedError

    def mcp_seen(self, box: Sandbox, tools: set[str]) -> bool | None:
        """Our MCP server's tools were offered (None: this tool gives no way to tell)."""
        return None if self.mcp_tool is None else any(self.mcp_tool in t for t in tools)


def _json_lines(path: Path) -> list[dict[str, Any]]:
    out = []
    for line in path.read_text(errors="replace").splitlines() if path.is_file() else []:
        try:
            item = json.loads(line)
        except ValueError:
            continue
        if isinstance(item, dict):
            out.append(item)
    return out


class ClaudeCode(Driver):
    tool, agent = "claude", "claude-code"
    # SessionEnd fires too (its "completed with status 0" line), but Claude gives SessionEnd hooks a
    # short budget and may cut them when the machine is loaded, so it is reported, not required
    events = frozenset({"SessionStart", "UserPromptSubmit", "PostToolUse", "Stop"})

    def home_env(self, box: Sandbox) -> dict[str, str]:
        return {"CLAUDE_CONFIG_DIR": str(box.home / ".claude")}

    def env(self, box: Sandbox, mock: ModelMock, n: int) -> dict[str, str]:
        return {"ANTHROPIC_BASE_URL": mock.url,
                "ANTHROPIC_API_KEY": FAKE_KEY, "DISABLE_AUTOUPDATER": "1", "DISABLE_TELEMETRY": "1",
                "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1"}

    def argv(self, box: Sandbox, prompt: str, n: int) -> list[str]:
        return [str(self.cli()), "-p", prompt, "--allowedTools", "Bash", "--output-format", "json",
                "--debug", "hooks,mcp", "--debug-file", str(box.root / f"claude-debug-{n}.txt")]

    def fired(self, box: Sandbox, session: Session, n: int) -> set[str]:
        # "Hook PostToolUse:Bash (PostToolUse) success:" / "SessionEnd:other [cmd] completed with status 0"
        text = (box.root / f"claude-debug-{n}.txt").read_text(errors="replace")
        found = set(re.findall(r"\bHook \S+ \((\w+)\) success", text))
        found |= set(re.findall(r"\b(\w+):\w+ \[[^\]]*\] completed with status 0", text))
        # our PostToolUse is async: Claude logs launching it; its result may land after the run ends
        found |= set(re.findall(r"Registering async hook \S+ \((\w+)(?::\S+)?\)", text))
        return found

    def mcp_seen(self, box: Sandbox, tools: set[str]) -> bool | None:
        # `claude -p` connects MCP servers without blocking the first request (its tool list then
        # offers WaitForMcpServers instead), and a short run may end before `nexus mcp` has answered
        # on a loaded machine: the debug log shows Claude read our entry and started our server, and
        # usually that it connected
        text = "".join(p.read_text(errors="replace") for p in box.root.glob("claude-debug-*.txt"))
        return bool(re.search(r'MCP server "nexus-memory": (Successfully connected|Starting connection)', text))


def provider_config(mock: ModelMock, text: str) -> str:
    """A Codex config.toml using the mock as a custom Responses-API provider (root keys first)."""
    return ('model = "mock-model"\nmodel_provider = "mock"\n' + text
            + f'\n[model_providers.mock]\nname = "mock"\nbase_url = "{mock.url}/v1"\n'
              'env_key = "MOCK_MODEL_API_KEY"\nwire_api = "responses"\n')


class Codex(Driver):
    tool, agent = "codex", "codex"
    mcp_tool = "nexus_memory"  # a `namespace` tool holding the server's tools
    events = frozenset({"SessionStart", "UserPromptSubmit", "PostToolUse", "Stop"})

    def prepare(self, box: Sandbox) -> None:
        # a [features] table of the user's own: install must add `hooks = true` inside it (issue 13);
        # `plugins = false` also keeps Codex from fetching its curated plugin list at start-up
        config = box.home / ".codex" / "config.toml"
        config.parent.mkdir(parents=True, exist_ok=True)
        config.write_text("[features]\nplugins = false\n")

    def configure(self, box: Sandbox, mock: ModelMock) -> None:
        config = box.home / ".codex" / "config.toml"
        config.write_text(provider_config(mock, config.read_text()))

    def env(self, box: Sandbox, mock: ModelMock, n: int) -> dict[str, str]:
        return {"MOCK_MODEL_API_KEY": FAKE_KEY}

    def home_env(self, box: Sandbox) -> dict[str, str]:
        return {"CODEX_HOME": str(box.home / ".codex")}

    def argv(self, box: Sandbox, prompt: str, n: int) -> list[str]:
        # Hook trust: Codex runs a new hook only once trusted in /hooks (TUI); automation that vets its
        # hook sources says so per run with this flag (`codex exec --help`).
        # `codex exec` does not wait for an optional MCP server: `required` makes it wait, so the request
        # shows whether our server's tools are offered
        return ["node", str(self.cli()), "exec", "--dangerously-bypass-approvals-and-sandbox",
                "--dangerously-bypass-hook-trust", "--skip-git-repo-check",
                "-c", 'mcp_servers.nexus-memory.required=true', prompt]

    def fired(self, box: Sandbox, session: Session, n: int) -> set[str]:
        # codex exec prints "hook: <Event> Completed" on stderr for every hook run that succeeded
        return set(re.findall(r"^hook: (\w+) Completed", session.proc.stderr + session.proc.stdout, re.M))


class Qwen(Driver):
    tool, agent = "qwen", "qwen"
    mcp_tool = None  # MCP tools sit behind its `tool_search` tool, not in the request's tool list
    events = frozenset({"SessionStart", "UserPromptSubmit", "PostToolUse", "Stop"})

    def configure(self, box: Sandbox, mock: ModelMock) -> None:
        path = box.home / ".qwen" / "settings.json"
        data = json.loads(path.read_text())
        data["privacy"] = {"usageStatisticsEnabled": False}
        path.write_text(json.dumps(data, indent=2))

    def env(self, box: Sandbox, mock: ModelMock, n: int) -> dict[str, str]:
        return {"OPENAI_API_KEY": FAKE_KEY, "OPENAI_BASE_URL": f"{mock.url}/v1", "OPENAI_MODEL": "mock-model",
                "QWEN_CODE_SUPPRESS_YOLO_WARNING": "1", "QWEN_DEBUG_LOG_FILE": "1"}

    def argv(self, box: Sandbox, prompt: str, n: int) -> list[str]:
        return ["node", str(self.cli()), "--auth-type", "openai", "--yolo", "-p", prompt]

    def fired(self, box: Sandbox, session: Session, n: int) -> set[str]:
        # the session debug log (bundled/qc-helper/docs/features/hooks.md, "A hook does not fire"):
        # "[TRUSTED_HOOKS] Hook <name> ended for event <event>" per run that finished
        text = "".join(p.read_text(errors="replace") for p in (box.home / ".qwen" / "debug").glob("*")
                       if p.is_file())
        return set(re.findall(r"Hook \S+ ended for event (\w+)", text))


def _link_or_copy(src: str, dst: str) -> None:
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


class OpenCode(Driver):
    tool, agent = "opencode", "opencode"
    # OpenCode has no hook log; the plugin's calls as our store recorded them (event names it sends)
    events = frozenset({"session.created", "chat.message", "tool.execute.after"})
    mcp_tool = "nexus-memory_search_memories"

    def configure(self, box: Sandbox, mock: ModelMock) -> None:
        folder = box.home / ".config" / "opencode"
        config = folder / "opencode.json"
        data = json.loads(config.read_text())
        data.update({
            "autoupdate": False, "share": "disabled", "model": "mock/mock-model",
            "provider": {"mock": {"npm": "@ai-sdk/openai-compatible", "name": "Mock",
                                  "options": {"baseURL": f"{mock.url}/v1", "apiKey": FAKE_KEY},
                                  "models": {"mock-model": {"name": "Mock model", "tool_call": True}}}},
        })
        config.write_text(json.dumps(data, indent=2))
        # At start-up OpenCode runs `npm install` in its config folder for @opencode-ai/plugin: over the
        # network, unless package.json, package-lock.json and node_modules are there and agree. Give it
        # the copy the service script installed (hard links: no space, no download). A symlinked
        # node_modules is not enough: npm then asks the registry.
        plugin, reason = cli_path("opencode-plugin")
        assert plugin is not None, reason
        cached = packages()["opencode-plugin"].folder()
        for name in ("package.json", "package-lock.json"):
            shutil.copy2(cached / name, folder / name)
        shutil.copytree(cached / "node_modules", folder / "node_modules", copy_function=_link_or_copy,
                        symlinks=True)

    def env(self, box: Sandbox, mock: ModelMock, n: int) -> dict[str, str]:
        return {"OPENCODE_DISABLE_MODELS_FETCH": "1", "OPENCODE_DISABLE_AUTOUPDATE": "1",
                "OPENCODE_DISABLE_LSP_DOWNLOAD": "1", "OPENCODE_DISABLE_DEFAULT_PLUGINS": "1"}

    def argv(self, box: Sandbox, prompt: str, n: int) -> list[str]:
        return [str(self.cli()), "run", prompt]

    def fired(self, box: Sandbox, session: Session, n: int) -> set[str]:
        out = set()
        for m in box.memories():
            hook = (m.get("metadata") or {}).get("hook") or {}
            if hook.get("agent") == "opencode" and hook.get("event"):
                out.add(str(hook["event"]))
        if "<nexus_context" in session.request_text():  # only the plugin's session.created call returns it
            out.add("session.created")
        return out


class Copilot(Driver):
    tool, agent = "copilot", "copilot"
    events = frozenset({"sessionStart", "userPromptSubmitted", "postToolUse", "agentStop", "sessionEnd"})
    mcp_tool = "nexus-memory-search_memories"

    def env(self, box: Sandbox, mock: ModelMock, n: int) -> dict[str, str]:
        runtime = packages()["copilot"].folder() / "runtime"
        return {"COPILOT_OFFLINE": "true", "COPILOT_PROVIDER_BASE_URL": f"{mock.url}/v1",
                "COPILOT_PROVIDER_API_KEY": FAKE_KEY, "COPILOT_MODEL": "mock-model",
                "COPILOT_CACHE_HOME": str(runtime), "COPILOT_AUTO_UPDATE": "false"}

    def argv(self, box: Sandbox, prompt: str, n: int) -> list[str]:
        return ["node", str(self.cli()), "-p", prompt, "--allow-all-tools", "--no-color"]

    def fired(self, box: Sandbox, session: Session, n: int) -> set[str]:
        # the session's own event log: {"type": "hook.end", "data": {"hookType": ..., "success": true}}
        out = set()
        for path in (box.home / ".copilot" / "session-state").glob("*/events.jsonl"):
            for e in _json_lines(path):
                data = e.get("data") or {}
                if e.get("type") == "hook.end" and data.get("success") is True:
                    out.add(str(data.get("hookType")))
        return out


class Droid(Driver):
    tool, agent = "droid", "droid"
    events = frozenset({"SessionStart", "PostToolUse", "Stop", "SessionEnd"})
    prompt_hook = False  # UserPromptSubmit does not fire in `droid exec`

    def configure(self, box: Sandbox, mock: ModelMock) -> None:
        path = box.home / ".factory" / "settings.json"
        data = json.loads(path.read_text()) if path.exists() else {}
        data["customModels"] = [{"model": "mock-model", "displayName": "Mock", "baseUrl": f"{mock.url}/v1",
                                 "apiKey": FAKE_KEY, "provider": "generic-chat-completion-api",
                                 "maxOutputTokens": 4096}]
        path.write_text(json.dumps(data, indent=2))

    def env(self, box: Sandbox, mock: ModelMock, n: int) -> dict[str, str]:
        return {"FACTORY_LOG_FILE": str(box.root / f"droid-{n}.log")}

    def argv(self, box: Sandbox, prompt: str, n: int) -> list[str]:
        return [str(self.cli()), "exec", "--auto", "high", "-m", "custom:Mock-0", prompt]

    def fired(self, box: Sandbox, session: Session, n: int) -> set[str]:
        # "[Hooks] Hook execution completed | Context: {"name":"SessionStart",...}"
        text = (box.root / f"droid-{n}.log").read_text(errors="replace")
        return set(re.findall(r'\[Hooks\] Hook execution completed \| Context: \{"name":"(\w+)"', text))

    def mcp_seen(self, box: Sandbox, tools: set[str]) -> bool | None:
        # Droid defers MCP tools behind its tool search; its log says whether our server connected
        text = (box.root / "droid-2.log").read_text(errors="replace")
        return bool(re.search(r'MCP server connected \| Context: \{"name":"nexus-memory"', text))

    def ignored_keys(self, box: Sandbox) -> list[str]:
        text = "".join(p.read_text(errors="replace") for p in box.root.glob("droid-*.log"))
        return re.findall(r"Ignoring unknown hook event keys.*", text)


DRIVERS: dict[str, Driver] = {d.agent: d for d in (ClaudeCode(), Codex(), Qwen(), OpenCode(), Copilot(), Droid())}
