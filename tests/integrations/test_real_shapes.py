"""Regression tests for what the real agent CLIs rejected (issue 13), each built from the shipped program.

- Droid 0.225 (`@factory/cli`): hooks.json holds the event names at its top level; a nested
  `{"hooks": {...}}` made it log `Ignoring unknown hook event keys ... keys:["hooks"]` and fire nothing.
- Codex 0.171: a `[table]` block at the end of config.toml captured the keys a user appended later;
  an existing `[features]` table got no `hooks = true` while status said installed.
- Qwen Code 0.24.4: its shell result always says `Error: (none)` and echoes the command first
  (`chunks/chunk-DPEB6S2R.js`); hook timeouts are seconds (`bundled/qc-helper/docs/features/hooks.md`).
- Gemini CLI 0.61: settings.json is read through strip-json-comments, so users keep comments in it.
The end-to-end tests (test_agent_clis_e2e.py) run the same programs against these files.
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest

from nexus_memory.integrations.codex import FEATURE_MARK
from nexus_memory.integrations.installer import Manifest, Target
from nexus_memory.integrations.registry import tool
from tests.integrations.helpers import hook, memories

NEXUS = "/opt/nexus/bin/nexus"


@pytest.fixture
def target(tmp_path: Path) -> Target:
    (tmp_path / "home").mkdir()
    (tmp_path / "proj").mkdir()
    return Target(home=tmp_path / "home", project=tmp_path / "proj", scope="user", command=NEXUS,
                  state_dir=tmp_path / "cfg", env={"PATH": str(tmp_path / "nobin")})


def _install(target: Target, agent: str) -> None:
    manifest = Manifest(target.state_dir)
    tool(agent).install(target, manifest)
    manifest.save()


def _uninstall(target: Target, agent: str) -> None:
    manifest = Manifest(target.state_dir)
    tool(agent).uninstall(target, manifest)
    manifest.save()


# ------------------------------------------------------------------------------------------ Droid
def test_droid_hooks_json_takes_the_event_names_at_its_top_level(target: Target) -> None:
    _install(target, "droid")
    data = json.loads((target.home / ".factory/hooks.json").read_text())
    assert "hooks" not in data, "Droid ignores a nested hooks.json: keys:[\"hooks\"]"
    assert data["PostToolUse"][0] == {"matcher": "*", "hooks": [
        {"type": "command", "command": f"{NEXUS} hook droid PostToolUse", "timeout": 15}]}
    assert tool("droid").status(target).installed == "yes"


def test_droid_settings_json_keeps_them_under_hooks(target: Target) -> None:
    settings = target.home / ".factory/settings.json"
    settings.parent.mkdir(parents=True)
    settings.write_text('{"hooks": {"Stop": [{"hooks": [{"type": "command", "command": "bell"}]}]}}\n')
    _install(target, "droid")
    data = json.loads(settings.read_text())
    assert set(data["hooks"]) >= {"SessionStart", "PostToolUse", "Stop"}
    assert not (target.home / ".factory/hooks.json").exists()
    assert tool("droid").status(target).installed == "yes"


def test_droid_install_moves_our_old_nested_entries_out(target: Target) -> None:
    path = target.home / ".factory/hooks.json"
    path.parent.mkdir(parents=True)
    old = {"Stop": [{"hooks": [{"type": "command", "command": "bell"}]}],
           "hooks": {"SessionStart": [{"hooks": [{"type": "command", "command": f"{NEXUS} hook droid SessionStart",
                                                  "timeout": 15}]}]}}
    path.write_text(json.dumps(old, indent=2) + "\n")
    _install(target, "droid")
    data = json.loads(path.read_text())
    assert "hooks" not in data
    assert data["Stop"][0]["hooks"][0]["command"] == "bell", "the user's own entry is kept"
    assert any("hook droid Stop" in h["command"] for g in data["Stop"] for h in g["hooks"])
    assert data["SessionStart"][0]["hooks"][0]["command"] == f"{NEXUS} hook droid SessionStart"
    _uninstall(target, "droid")
    assert json.loads(path.read_text()) == {"Stop": [{"hooks": [{"type": "command", "command": "bell"}]}]}


def test_droid_status_says_the_prompt_hook_does_not_fire_in_exec(target: Target) -> None:
    _install(target, "droid")
    notes = " ".join(tool("droid").status(target).notes)
    assert "UserPromptSubmit" in notes and "droid exec" in notes


# ------------------------------------------------------------------------------------------ Codex
def test_codex_keys_a_user_appends_after_install_stay_top_level(target: Target) -> None:
    path = target.home / ".codex/config.toml"
    path.parent.mkdir(parents=True)
    path.write_text('model = "o4"\n')
    _install(target, "codex")
    with path.open("a") as fh:  # what a user (or `codex` itself) does next
        fh.write('approval_policy = "never"\nmodel_provider = "mock"\n')
    data = tomllib.loads(path.read_text())
    assert data["approval_policy"] == "never" and data["model_provider"] == "mock"
    assert data["mcp_servers"]["nexus-memory"] == {"command": NEXUS, "args": ["mcp"]}
    assert data["features"] == {"hooks": True}


def test_codex_existing_features_table_gets_hooks_on_and_uninstall_restores_it(target: Target) -> None:
    path = target.home / ".codex/config.toml"
    path.parent.mkdir(parents=True)
    original = 'model = "o4"\n\n[features]\nweb_search_request = true\n\n[mcp_servers.docs]\ncommand = "docs"\n'
    path.write_text(original)
    _install(target, "codex")
    text = path.read_text()
    data = tomllib.loads(text)
    assert data["features"] == {"hooks": True, "web_search_request": True}
    assert FEATURE_MARK in text and data["mcp_servers"]["docs"] == {"command": "docs"}
    st = tool("codex").status(target)
    assert st.installed == "yes" and st.capabilities["mcp"] == "yes"
    _install(target, "codex")
    assert path.read_text() == text, "re-running install changes nothing"
    _uninstall(target, "codex")
    assert path.read_text() == original


def test_codex_status_does_not_claim_hooks_the_user_turned_off(target: Target) -> None:
    path = target.home / ".codex/config.toml"
    path.parent.mkdir(parents=True)
    path.write_text("[features]\nhooks = false\n")
    _install(target, "codex")
    assert tomllib.loads(path.read_text())["features"]["hooks"] is False, "the user's choice is kept"
    st = tool("codex").status(target)
    assert st.installed == "partial"
    assert st.capabilities["capture"].startswith("no")
    assert any("hooks = false" in n for n in st.notes)


def test_codex_status_names_the_hook_trust_step(target: Target) -> None:
    _install(target, "codex")
    note = next(n for n in tool("codex").status(target).notes if n.startswith("hook trust"))
    assert "/hooks" in note and "--dangerously-bypass-hook-trust" in note and "one run" in note


# ------------------------------------------------------------------------------------------ Qwen
QWEN_RESULT = ("Command: cat notes.txt\nDirectory: (root)\nOutput: the staging database is db-stage-7 on port 6543\n"
               "Error: (none)\nExit Code: 0\nSignal: (none)\nProcess Group PGID: (none)")


def _qwen_tool(cwd: str, command: str, llm_content: str) -> None:
    # the PostToolUse payload Qwen Code 0.24.4 sent our hook (recorded from the real CLI)
    hook("qwen", "PostToolUse", {
        "session_id": "q1", "transcript_path": "/nonexistent.jsonl", "cwd": cwd, "hook_event_name": "PostToolUse",
        "timestamp": "2026-12-07T17:09:54.731Z", "permission_mode": "yolo", "tool_name": "run_shell_command",
        "tool_input": {"command": command, "is_background": False, "description": "Print the project notes"},
        "tool_response": {"llmContent": llm_content, "returnDisplay": "the staging database is db-stage-7"},
        "tool_use_id": "toolu_1", "tool_call_id": "call_1", "duration_ms": 21})


def test_qwen_shell_output_is_kept_and_not_labelled_an_error(tmp_path: Path) -> None:
    _qwen_tool(str(tmp_path), "cat notes.txt", QWEN_RESULT)
    stored = memories(agents=("qwen",))
    assert stored
    for m in stored:
        assert "error" not in m.labels, m.labels
        assert "Error: (none)" not in m.content and "Command: cat" not in m.content
    assert any("db-stage-7 on port 6543" in m.content for m in stored)


def test_qwen_failed_command_is_an_error(tmp_path: Path) -> None:
    failed = QWEN_RESULT.replace("Output: the staging database is db-stage-7 on port 6543", "Output: (empty)") \
        .replace("Exit Code: 0", "Exit Code: 1").replace("cat notes.txt", "make deploy")
    _qwen_tool(str(tmp_path), "make deploy", failed)
    stored = [m for m in memories(agents=("qwen",)) if "make deploy" in m.content]
    assert stored and any("error" in m.labels or "exit code 1" in m.content for m in stored)


def test_qwen_hook_timeouts_are_seconds(target: Target) -> None:
    _install(target, "qwen")
    data = json.loads((target.home / ".qwen/settings.json").read_text())
    timeouts = {e: g[0]["hooks"][0]["timeout"] for e, g in data["hooks"].items()}
    assert all(0 < t < 1000 for t in timeouts.values()), timeouts  # 1000 or more is read as ms
    assert timeouts["SessionEnd"] == 5


def test_qwen_trust_notes_follow_its_docs(target: Target) -> None:
    _install(target, "qwen")
    assert not any("trust" in n for n in tool("qwen").status(target).notes), "user hooks load regardless of trust"
    project = Target(home=target.home, project=target.project, scope="project", command=NEXUS,
                     state_dir=target.state_dir, env=target.env)
    _install(project, "qwen")
    assert not any("trust" in n for n in tool("qwen").status(project).notes), "folder trust is off by default"
    settings = target.home / ".qwen/settings.json"
    data = json.loads(settings.read_text())
    data["security"] = {"folderTrust": {"enabled": True}}
    settings.write_text(json.dumps(data))
    notes = tool("qwen").status(project).notes
    assert any("folder trust" in n and ".qwen/settings.json" in n for n in notes), notes


# ------------------------------------------------------------------------------------------ Gemini
GEMINI_JSONC = """{
  // my Gemini settings
  "ui": { "theme": "Dracula" }, /* dark, always */
  "general": {
    "vimMode": true // muscle memory
  },
  "security": { "folderTrust": { "enabled": false } }
}
"""


def test_gemini_settings_with_comments_are_edited_in_place(target: Target) -> None:
    path = target.home / ".gemini/settings.json"
    path.parent.mkdir(parents=True)
    path.write_text(GEMINI_JSONC)
    _install(target, "gemini")
    text = path.read_text()
    for comment in ("// my Gemini settings", "/* dark, always */", "// muscle memory"):
        assert comment in text
    st = tool("gemini").status(target)
    assert st.installed == "yes" and not any("folder trust" in n for n in st.notes), st.notes
    _install(target, "gemini")
    assert path.read_text() == text
    _uninstall(target, "gemini")
    assert path.read_text() == GEMINI_JSONC


# ------------------------------------------------------------------------------------ Claude Code
def test_claude_code_read_result_is_stored_as_the_file_text(tmp_path: Path) -> None:
    """Claude Code's Read answers FileReadOutput, {"type": "text", "file": {"filePath", "content", ...}}
    (`sdk-tools.d.ts` in @anthropic-ai/claude-code 2.1.197): the episode holds the file's lines, not
    that JSON (which no fact rule and no search term would read as lines of a file)."""
    content = "defaultConfig {\n    applicationId 'com.pocketapp.client'\n    minSdk 26\n    versionName '3.8.2'\n}"
    hook("claude-code", "PostToolUse", {
        "session_id": "c1", "cwd": str(tmp_path), "hook_event_name": "PostToolUse", "tool_name": "Read",
        "tool_input": {"file_path": "android/app/build.gradle"}, "tool_use_id": "toolu_1",
        "tool_response": {"type": "text", "file": {"filePath": "android/app/build.gradle", "content": content,
                                                   "numLines": 5, "startLine": 1, "totalLines": 5}}})
    stored = memories(agents=("claude-code",))
    episode = next(m for m in stored if m.is_raw_activity and "build.gradle" in m.content)
    assert "    minSdk 26\n" in episode.content, episode.content
    assert "filePath" not in episode.content and "numLines" not in episode.content
