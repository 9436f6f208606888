"""install / status / uninstall for the eight tools: surgical, idempotent, reversible, schema-valid."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import jsonschema
import pytest

from nexus_memory.domain.agents import SUPPORTED_AGENTS
from nexus_memory.errors import IntegrationError
from nexus_memory.integrations.installer import Manifest, Target
from nexus_memory.integrations.registry import tool
from tests.conftest import run_nexus

SCHEMAS = Path(__file__).resolve().parents[1] / "data" / "schemas"
NEXUS = "/opt/nexus/bin/nexus"


def schema(rel: str) -> dict[str, object]:
    return json.loads((SCHEMAS / rel).read_text())


def validate(instance: object, rel: str) -> None:
    s = schema(rel)
    cls = jsonschema.validators.validator_for(s)
    cls(s).validate(instance)


@pytest.fixture
def target(tmp_path: Path) -> Target:
    home = tmp_path / "home"
    project = tmp_path / "proj"
    home.mkdir()
    project.mkdir()
    return Target(home=home, project=project, scope="user", command=NEXUS, state_dir=tmp_path / "cfg",
                  env={"PATH": str(tmp_path / "nobin")})


def files_of(t: Target) -> dict[str, bytes]:
    return {str(p.relative_to(t.home.parent)): p.read_bytes() for p in sorted(t.home.parent.rglob("*"))
            if p.is_file() and "cfg" not in p.parts}


# User files seeded before install, in each tool's own layout, with odd formatting.
SEEDS: dict[str, dict[str, str]] = {
    "claude-code": {".claude/settings.json": '{\n  "model": "opus",\n  "hooks": {\n    "PostToolUse": [\n'
                    '      {"matcher": "Bash", "hooks": [{"type": "command", "command": "audit.sh"}]}\n    ]\n  }\n}\n',
                    ".claude.json": '{"numStartups": 3, "mcpServers": {"other": {"command": "x"}}}'},
    "gemini": {".gemini/settings.json": '{\n    "ui": {"theme": "Dracula"},\n    "mcpServers": {}\n}\n'},
    "qwen": {".qwen/settings.json": '{"hooks": {"Stop": [{"hooks": [{"type": "command", "command": "bell"}]}]}}\n'},
    "codex": {".codex/config.toml": 'model = "o4"\n\n[mcp_servers.docs]\ncommand = "docs-mcp"\n',
              ".codex/hooks.json": '{"hooks": {"Stop": [{"hooks": [{"type": "command", "command": "notify"}]}]}}\n'},
    "opencode": {".config/opencode/opencode.json": '{\n  "$schema": "https://opencode.ai/config.json",\n'
                 '  "theme": "system"\n}\n'},
    # Droid's hooks.json holds the event names at its top level (settings.json nests them under "hooks")
    "droid": {".factory/hooks.json": '{\n  "PostToolUse": [{"matcher": "Execute", "hooks": [{"type": "command", '
                                     '"command": "audit.sh", "timeout": 5}]}]\n}\n'},
    "cursor": {".cursor/hooks.json": '{"version": 1, "hooks": {"stop": [{"command": "./done.sh"}]}}\n'},
    "copilot": {".copilot/mcp-config.json": '{"mcpServers": {"gh": {"type": "http", "url": "https://x"}}}\n'},
}


@pytest.mark.parametrize("agent", SUPPORTED_AGENTS)
def test_install_is_idempotent_and_uninstall_restores_every_byte(target: Target, agent: str) -> None:
    for rel, text in SEEDS[agent].items():
        path = target.home / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    before = files_of(target)
    t = tool(agent)
    manifest = Manifest(target.state_dir)
    changes = t.install(target, manifest)
    manifest.save()
    assert any(c.action in ("created", "updated") for c in changes)
    after_first = files_of(target)
    st = t.status(target)
    assert st.installed == "yes", st
    assert st.capabilities["capture"] == "yes"
    again = Manifest(target.state_dir)
    assert all(c.action == "unchanged" for c in t.install(target, again)), "re-running install changed something"
    again.save()
    assert files_of(target) == after_first
    for rel, text in SEEDS[agent].items():  # the user's own entries are still there
        data_before = _loads(text, rel)
        data_after = _loads((target.home / rel).read_text(), rel)
        _assert_contains(data_after, data_before)
    final = Manifest(target.state_dir)
    t.uninstall(target, final)
    final.save()
    after = {k: v for k, v in files_of(target).items() if not k.endswith(".nexus-backup")}
    assert after == before
    assert t.status(target).installed == "no"


def _loads(text: str, rel: str) -> object:
    return tomllib.loads(text) if rel.endswith(".toml") else json.loads(text)


def _assert_contains(big: object, small: object) -> None:
    if isinstance(small, dict):
        assert isinstance(big, dict)
        for k, v in small.items():
            assert k in big
            _assert_contains(big[k], v)
    elif isinstance(small, list):
        assert isinstance(big, list)
        for item in small:
            assert item in big
    else:
        assert big == small


def test_installed_configs_validate_against_the_vendored_schemas(target: Target) -> None:
    manifest = Manifest(target.state_dir)
    for agent in ("claude-code", "gemini", "codex"):
        tool(agent).install(target, manifest)
    claude = json.loads((target.home / ".claude/settings.json").read_text())
    validate(claude, "schemastore/claude-code-settings.json")
    gemini = json.loads((target.home / ".gemini/settings.json").read_text())
    validate(gemini, "gemini-cli/settings.schema.json")
    codex = json.loads((target.home / ".codex/hooks.json").read_text())
    validate(codex, "schemastore/codex-hooks.json")
    toml = tomllib.loads((target.home / ".codex/config.toml").read_text())
    assert toml["mcp_servers"]["nexus-memory"] == {"command": NEXUS, "args": ["mcp"]}
    assert toml["features"]["hooks"] is True
    # timeouts in each tool's own unit
    assert claude["hooks"]["UserPromptSubmit"][0]["hooks"][0]["timeout"] == 15
    assert gemini["hooks"]["BeforeAgent"][0]["hooks"][0]["timeout"] == 10_000
    assert codex["hooks"]["SessionEnd"][0]["hooks"][0]["timeout"] == 3
    assert claude["hooks"]["PostToolUse"][0]["hooks"][0]["command"] == f"{NEXUS} hook claude-code PostToolUse"
    assert gemini["mcpServers"]["nexus-memory"]["args"] == ["mcp"]


def test_other_tools_formats(target: Target) -> None:
    manifest = Manifest(target.state_dir)
    for agent in ("cursor", "copilot", "opencode", "qwen", "droid"):
        tool(agent).install(target, manifest)
    cursor = json.loads((target.home / ".cursor/hooks.json").read_text())
    assert cursor["version"] == 1
    assert cursor["hooks"]["afterShellExecution"] == [{"command": f"{NEXUS} hook cursor afterShellExecution"}]
    copilot = json.loads((target.home / ".copilot/hooks/nexus-memory.json").read_text())
    assert copilot["hooks"]["postToolUse"][0] == {"type": "command", "bash": f"{NEXUS} hook copilot postToolUse",
                                                  "timeoutSec": 10}
    assert not (target.home / ".copilot/copilot-instructions.md").exists(), "context goes through the hooks now"
    plugin = (target.home / ".config/opencode/plugins/nexus-memory.js").read_text()
    assert json.dumps(NEXUS) in plugin and "experimental.chat.system.transform" in plugin
    oc = json.loads((target.home / ".config/opencode/opencode.json").read_text())
    assert oc["mcp"]["nexus-memory"] == {"type": "local", "command": [NEXUS, "mcp"], "enabled": True}
    qwen = json.loads((target.home / ".qwen/settings.json").read_text())
    assert qwen["hooks"]["PostToolUse"][0]["hooks"][0]["name"] == "nexus-memory-PostToolUse"
    assert json.loads((target.home / ".factory/mcp.json").read_text())["mcpServers"]["nexus-memory"]["args"] == ["mcp"]
    droid = json.loads((target.home / ".factory/hooks.json").read_text())
    assert "hooks" not in droid and droid["SessionStart"][0]["hooks"][0]["command"].endswith("hook droid SessionStart")


@pytest.mark.parametrize(("agent", "rel"), [("claude-code", ".claude/settings.json"),
                                            ("gemini", ".gemini/settings.json"), ("codex", ".codex/config.toml"),
                                            ("cursor", ".cursor/hooks.json")])
def test_a_malformed_file_is_refused_and_left_untouched(target: Target, agent: str, rel: str) -> None:
    path = target.home / rel
    path.parent.mkdir(parents=True)
    broken = '{"hooks": {,}' if rel.endswith(".json") else "[mcp_servers\nx = "
    path.write_text(broken)
    with pytest.raises(IntegrationError) as err:
        tool(agent).install(target, Manifest(target.state_dir))
    assert str(path) in err.value.message
    assert path.read_text() == broken
    assert not path.with_name(path.name + ".nexus-backup").exists()


def test_a_foreign_server_with_our_name_is_left_alone(target: Target) -> None:
    path = target.home / ".cursor/mcp.json"
    path.parent.mkdir(parents=True)
    path.write_text('{"mcpServers": {"nexus-memory": {"command": "someone-else"}}}')
    changes = tool("cursor").install(target, Manifest(target.state_dir))
    assert any(c.action == "skipped" and "not ours" in c.detail for c in changes)
    assert json.loads(path.read_text())["mcpServers"]["nexus-memory"] == {"command": "someone-else"}


def test_context_files_only_with_the_flag_and_only_existing_files(target: Target, tmp_path: Path) -> None:
    claude_md = target.home / ".claude" / "CLAUDE.md"
    claude_md.parent.mkdir(parents=True)
    claude_md.write_text("# Mine\n")
    tool("claude-code").install(target, Manifest(target.state_dir))
    assert claude_md.read_text() == "# Mine\n"
    opted = Target(**{**target.__dict__, "context_files": True})
    manifest = Manifest(target.state_dir)
    tool("claude-code").install(opted, manifest)
    tool("gemini").install(opted, manifest)  # no GEMINI.md: not created
    manifest.save()
    assert "<!-- NEXUS:START -->" in claude_md.read_text() and ".nexus/context.md" in claude_md.read_text()
    assert not (target.home / ".gemini" / "GEMINI.md").exists()
    tool("claude-code").uninstall(opted, Manifest(target.state_dir))
    assert claude_md.read_text() == "# Mine\n"


def test_status_reports_trust_gates(target: Target) -> None:
    manifest = Manifest(target.state_dir)
    tool("codex").install(target, manifest)
    tool("gemini").install(target, manifest)
    codex = tool("codex").status(target)
    assert codex.installed == "yes"
    assert any("/hooks" in n for n in codex.notes)
    gemini = tool("gemini").status(target)
    assert any("folder trust" in n and "trustedFolders.json" in n for n in gemini.notes)
    (target.home / ".gemini" / "trustedFolders.json").write_text(json.dumps({str(target.project): "TRUST_FOLDER"}))
    assert not any("folder trust" in n for n in tool("gemini").status(target).notes)
    copilot = tool("copilot").status(target)
    assert copilot.installed == "no" and copilot.capabilities["prompt_context"] == "yes (not installed)"


def test_cli_install_status_uninstall(tmp_path: Path) -> None:
    home = tmp_path / "h"
    home.mkdir()
    env = {"HOME": str(home), "NEXUS_HOOK_BINARY": NEXUS, "XDG_CONFIG_HOME": "", "CODEX_HOME": "",
           "CLAUDE_CONFIG_DIR": "", "GEMINI_CLI_HOME": "", "COPILOT_HOME": ""}
    proc = run_nexus("hooks", "install", "--agent", "all", "--json", env=env)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert [r["agent"] for r in report] == list(SUPPORTED_AGENTS)
    assert all(r["status"]["installed"] == "yes" for r in report), report
    status = run_nexus("hooks", "status", "--json", env=env)
    assert {s["agent"]: s["installed"] for s in json.loads(status.stdout)} == dict.fromkeys(SUPPORTED_AGENTS, "yes")
    text = run_nexus("hooks", "status", "--agent", "codex", env=env)
    assert "Codex CLI (codex)" in text.stdout and "note: hook trust" in text.stdout
    proc = run_nexus("hooks", "uninstall", "--agent", "all", env=env)
    assert proc.returncode == 0, proc.stderr
    leftovers = [p for p in home.rglob("*") if p.is_file() and not p.name.endswith(".nexus-backup")]
    assert leftovers == []
    bad = run_nexus("hooks", "install", "--agent", "nope", env=env)
    assert bad.returncode == 1 and "unknown agent tool 'nope'" in bad.stderr


def test_found_means_on_path_or_the_users_own_config(target: Target, tmp_path: Path) -> None:
    manifest = Manifest(target.state_dir)
    tool("codex").install(target, manifest)
    manifest.save()
    assert tool("codex").status(target).found is False, "our own files do not make the tool 'found'"
    (target.home / ".codex" / "auth.json").write_text("{}")
    assert tool("codex").status(target).found is True
    bindir = tmp_path / "bin"
    bindir.mkdir()
    exe = bindir / "gemini"
    exe.write_text("#!/bin/sh\n")
    exe.chmod(0o755)
    on_path = Target(**{**target.__dict__, "env": {"PATH": str(bindir)}})
    assert tool("gemini").status(on_path).found is True
    assert tool("qwen").status(on_path).found is False
