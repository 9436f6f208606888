"""End to end with the real Gemini CLI (offline: --fake-responses; local telemetry shows the request).

Hooks are installed by `nexus hooks install --agent gemini` into a temporary home.
- Seeded case: a scripted session must leave captured memories, and the context we inject (the
  session pack and the per-prompt recall) must be found in the model request the CLI recorded.
- Captured case (issue 12 item 7): session 1 runs `cat notes.txt`, whose output holds a fact found
  nowhere else; session 2 asks about it. The fact is captured, found by plain search and reaches
  session 2's request (per-prompt recall).
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from nexus_memory.app import build_app
from nexus_memory.config import load_settings
from nexus_memory.integrations.settings_file import load_json
from nexus_memory.services.memories import StoreRequest
from tests.conftest import run_nexus
from tests.integrations.agent_cli import FACT, FACT_KEY, Sandbox, cli_path
from tests.integrations.helpers import memories

# Read at import time: the autouse fixture drops NEXUS_* variables before each test runs.
_PATH, _SKIP = cli_path("gemini")
_JS = str(_PATH)

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

SESSION_MARK = "sessionmarkalpha"
RECALL_MARK = "recallmarkbravo"
FAKE = [
    {"method": "generateContentStream", "response": [{"candidates": [{"content": {"parts": [{"functionCall": {
        "name": "run_shell_command", "args": {"command": "echo hi", "description": "say hi"}}}], "role": "model"},
        "finishReason": "STOP", "index": 0}]}]},
    {"method": "generateContentStream", "response": [{"candidates": [{"content": {"parts": [
        {"text": "The command printed hi, and the billing service deploys to eu-west-1."}], "role": "model"},
        "finishReason": "STOP", "index": 0}]}]},
]


def read_json_stream(path: Path) -> list[dict[str, Any]]:
    """The telemetry file is concatenated pretty-printed JSON objects."""
    text, dec, i, out = path.read_text(), json.JSONDecoder(), 0, []
    while True:
        while i < len(text) and text[i].isspace():
            i += 1
        if i >= len(text):
            return out
        obj, i = dec.raw_decode(text, i)
        out.append(obj)


def seed(project: Path) -> None:
    app = build_app(load_settings(), embeddings=False, cognition=False)
    try:
        app.memories.store(StoreRequest(
            content=f"The staging database listens on port 5433 ({SESSION_MARK})", agent="claude-code",
            category="facts", metadata={"hook": {"project_root": str(project)}}))
        app.memories.store(StoreRequest(
            content=f"The billing service deploys to region eu-west-1 ({RECALL_MARK})", agent="codex",
            category="facts"))  # of no project: only the per-prompt recall offers it (not the project's pack)
    finally:
        app.close()


@pytest.mark.skipif(_SKIP is not None, reason=_SKIP or "")
def test_real_gemini_cli_session_is_captured_and_context_reaches_the_model(tmp_path: Path) -> None:
    home, project, tmp = tmp_path / "home", tmp_path / "proj", tmp_path / "tmp"
    for d in (home / ".gemini", project / ".git", tmp):
        d.mkdir(parents=True)
    telemetry = tmp_path / "telemetry.log"
    user_settings = {
        "general": {"enableAutoUpdate": False, "enableAutoUpdateNotification": False},
        "security": {"auth": {"selectedType": "gemini-api-key"}, "folderTrust": {"enabled": False}},
        "privacy": {"usageStatisticsEnabled": False},
        "ide": {"enabled": False, "hasSeenNudge": True},
        "model": {"name": "gemini-2.5-flash"},
        "telemetry": {"enabled": True, "target": "local", "otlpEndpoint": "", "outfile": str(telemetry),
                      "logPrompts": True},
    }
    settings_file = home / ".gemini" / "settings.json"
    # Gemini reads settings.json through strip-json-comments: users keep comments there, and so must we
    settings_file.write_text("// my Gemini settings\n" + json.dumps(user_settings, indent=2) + "\n")
    seed(project)

    env = {k: v for k, v in os.environ.items() if not k.startswith(("GEMINI_", "GOOGLE_"))}
    env.update({"HOME": str(home), "GEMINI_CLI_HOME": str(home), "GEMINI_API_KEY": "dummy-not-a-key",
                "GEMINI_CLI_NO_RELAUNCH": "true", "TMPDIR": str(tmp), "NO_COLOR": "1"})
    installed = run_nexus("hooks", "install", "--agent", "gemini", "--json", env=env)
    assert installed.returncode == 0, installed.stderr
    assert settings_file.read_text().startswith("// my Gemini settings\n")
    written = load_json(settings_file.read_text())
    assert written["telemetry"] == user_settings["telemetry"], "install kept the user's settings"
    assert set(written["hooks"]) == {"SessionStart", "BeforeAgent", "AfterTool", "AfterAgent", "PreCompress",
                                     "SessionEnd"}

    fake = tmp_path / "fake.jsonl"
    fake.write_text("".join(json.dumps(line) + "\n" for line in FAKE))
    prompt = "Which region does the billing service deploy to? Also run echo hi"
    proc = subprocess.run(
        ["node", _JS, "--fake-responses", str(fake), "--approval-mode=yolo", "-m", "gemini-2.5-flash",
         "-o", "json", "-p", prompt],
        cwd=project, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=180, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "eu-west-1" in json.loads(proc.stdout)["response"]

    events = read_json_stream(telemetry)
    attrs = [e.get("attributes") or {} for e in events]
    calls = [a for a in attrs if a.get("event.name") == "gemini_cli.hook_call"]
    names = {c.get("hook_name") for c in calls}
    assert {"nexus-memory-SessionStart", "nexus-memory-BeforeAgent", "nexus-memory-AfterTool"} <= names, names
    assert all(c.get("success") in (True, "true") and int(c.get("exit_code", 0)) == 0 for c in calls), calls
    requests = [a["request_text"] for a in attrs if a.get("event.name") == "gemini_cli.api_request"]
    assert requests, "the CLI recorded no model request"
    first = requests[0]
    assert SESSION_MARK in first, "the session-start pack did not reach the model request"
    assert RECALL_MARK in first, "the per-prompt recall did not reach the model request"

    deadline = time.monotonic() + 30  # SessionEnd work runs in a detached worker
    while time.monotonic() < deadline:
        if any("runtime session end for gemini" in m.content for m in memories(agents=("gemini",))):
            break
        time.sleep(0.25)
    else:
        pytest.fail("the session end was not recorded by the detached worker")
    captured = memories(agents=("gemini",), include_archived=True,
                        include_inactive=True)
    texts = [m.content for m in captured]
    assert prompt in texts, texts
    assert not any("hook_context" in t or SESSION_MARK in t for t in texts), "our own injection was stored back"
    # the tool call is kept with its command and its output (whatever the capture format)
    assert any("echo hi" in t and "hi" in t.replace("echo hi", "") for t in texts), texts
    # written at session start by the hook, refreshed at session end by the nap (cognition)
    assert (project / ".nexus" / "context.md").read_text().startswith("# Nexus Project Context")
    log = load_settings().paths.log_dir / "hook-errors.log"
    assert not log.exists() or log.read_text() == "", log.read_text()


# ------------------------------------------------------------------------------------------ captured case
NOTES_CALL = [
    {"method": "generateContentStream", "response": [{"candidates": [{"content": {"parts": [{"functionCall": {
        "name": "run_shell_command", "args": {"command": "cat notes.txt", "description": "read the notes"}}}],
        "role": "model"}, "finishReason": "STOP", "index": 0}]}]},
    {"method": "generateContentStream", "response": [{"candidates": [{"content": {"parts": [
        {"text": "I read the project notes."}], "role": "model"}, "finishReason": "STOP", "index": 0}]}]},
]
ANSWER = [
    {"method": "generateContentStream", "response": [{"candidates": [{"content": {"parts": [
        {"text": "Going by what I was given."}], "role": "model"}, "finishReason": "STOP", "index": 0}]}]},
]


def _gemini_session(box: Sandbox, n: int, fake: list[dict[str, Any]], prompt: str) -> list[str]:
    """One headless session; returns the request texts the CLI's telemetry recorded for it."""
    telemetry = box.root / f"telemetry-{n}.log"
    settings = box.home / ".gemini" / "settings.json"
    data = json.loads(settings.read_text())
    data["telemetry"] = {**data["telemetry"], "outfile": str(telemetry)}
    settings.write_text(json.dumps(data, indent=2))
    fake_file = box.root / f"fake-{n}.jsonl"
    fake_file.write_text("".join(json.dumps(line) + "\n" for line in fake))
    env = {**box.env, "GEMINI_CLI_HOME": str(box.home), "GEMINI_API_KEY": "dummy-not-a-key",
           "GEMINI_CLI_NO_RELAUNCH": "true"}
    proc = subprocess.run(
        ["node", _JS, "--fake-responses", str(fake_file), "--approval-mode=yolo", "-m", "gemini-2.5-flash",
         "-o", "json", "-p", prompt],
        cwd=box.project, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=180, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    box.settle()
    attrs = [e.get("attributes") or {} for e in read_json_stream(telemetry)]
    return [a["request_text"] for a in attrs if a.get("event.name") == "gemini_cli.api_request"]


@pytest.fixture(scope="module")
def captured(tmp_path_factory: pytest.TempPathFactory) -> tuple[Sandbox, list[str], list[str]]:
    if _SKIP:
        pytest.skip(_SKIP)
    box = Sandbox.create(tmp_path_factory.mktemp("gemini-captured"))
    box.env["GEMINI_CLI_HOME"] = str(box.home)
    settings = box.home / ".gemini" / "settings.json"
    settings.parent.mkdir(parents=True)
    settings.write_text(json.dumps({
        "general": {"enableAutoUpdate": False, "enableAutoUpdateNotification": False},
        "security": {"auth": {"selectedType": "gemini-api-key"}, "folderTrust": {"enabled": False}},
        "privacy": {"usageStatisticsEnabled": False}, "ide": {"enabled": False, "hasSeenNudge": True},
        "model": {"name": "gemini-2.5-flash"},
        "telemetry": {"enabled": True, "target": "local", "otlpEndpoint": "", "logPrompts": True}}, indent=2))
    box.install("gemini")
    first = _gemini_session(box, 1, NOTES_CALL, "Read the project notes")
    second = _gemini_session(box, 2, ANSWER, "Where does the staging database live?")
    return box, first, second


def test_real_gemini_cli_captures_a_fact_seen_only_in_tool_output(
        captured: tuple[Sandbox, list[str], list[str]]) -> None:
    box, first, _second = captured
    assert any(FACT in r for r in first[1:]), "the shell tool's output did not reach the model"
    ours = [m for m in box.memories(raw=True) if m.get("agent_type") == "gemini"]
    assert any(FACT_KEY in str(m.get("content")) for m in ours), [m.get("content") for m in ours]
    assert box.hook_errors() == ""


def test_real_gemini_cli_fact_is_found_by_plain_search(captured: tuple[Sandbox, list[str], list[str]]) -> None:
    hits = captured[0].search("staging database port")
    assert any(FACT_KEY in str(h.get("content")) for h in hits)


def test_real_gemini_cli_fact_reaches_session_two(captured: tuple[Sandbox, list[str], list[str]]) -> None:
    assert any(FACT_KEY in r for r in captured[2])
