"""Smaller parts of the hook path: transcript formats, spool recovery, extra secret shapes, the OpenCode plugin."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from nexus_memory.domain.redaction import redact_text
from nexus_memory.integrations.installer import Target
from nexus_memory.integrations.opencode import plugin_source
from nexus_memory.integrations.spool import Spool
from nexus_memory.integrations.transcripts import Turn, parse_line, read_new


@pytest.mark.parametrize(("record", "turn"), [
    ({"type": "user", "message": {"role": "user", "content": "fix the flaky test"}}, Turn("user", "fix the flaky test")),
    ({"type": "assistant", "message": {"role": "assistant", "content": [{"type": "text", "text": "Done."},
                                                                          {"type": "tool_use", "name": "Bash"}]}},
     Turn("assistant", "Done.")),
    ({"type": "response_item", "payload": {"type": "message", "role": "assistant",
                                           "content": [{"type": "output_text", "text": "Patched it."}]}},
     Turn("assistant", "Patched it.")),
    ({"type": "event_msg", "payload": {"type": "agent_message", "message": "All green."}}, Turn("assistant", "All green.")),
    ({"id": "m1", "type": "gemini", "content": "Region is eu-west-1."}, Turn("assistant", "Region is eu-west-1.")),
    ({"id": "m2", "type": "user", "content": [{"text": "<hook_context>old pack</hook_context>\n\nwhat region?"}]},
     Turn("user", "what region?")),
])
def test_transcript_records_of_each_tool(record: dict[str, object], turn: Turn) -> None:
    assert parse_line(record) == turn


@pytest.mark.parametrize("record", [
    {"sessionId": "x", "projectHash": "h", "startTime": "t", "kind": "main"},  # Gemini metadata line
    {"$set": {"lastUpdated": "t"}},
    {"type": "user", "isMeta": True, "message": {"role": "user", "content": "<command-name>/clear</command-name>"}},
    {"type": "session_meta", "payload": {"id": "x"}},
])
def test_transcript_records_without_a_turn(record: dict[str, object]) -> None:
    assert parse_line(record) is None


def test_a_replaced_transcript_is_read_from_the_start(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    path.write_text(json.dumps({"type": "gemini", "content": "first"}) + "\n")
    turns, mark = read_new(path, {})
    assert [t.text for t in turns] == ["first"]
    assert read_new(path, mark)[0] == []
    with path.open("a") as fh:  # grows past the first 64 bytes: still the same file
        fh.write(json.dumps({"type": "gemini", "content": "second, a longer line than the first one"}) + "\n")
    turns, mark = read_new(path, mark)
    assert [t.text for t in turns] == ["second, a longer line than the first one"]
    path.unlink()
    path.write_text(json.dumps({"type": "gemini", "content": "new file, other bytes up front"}) + "\n" * 3)
    assert [t.text for t in read_new(path, mark)[0]] == ["new file, other bytes up front"]


def test_a_drainer_that_died_gives_its_records_back(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool", tmp_path / "logs")
    spool.folder.mkdir(parents=True)
    proc = subprocess.Popen(["true"])
    proc.wait()
    orphan = spool.folder / f"draining-{proc.pid}-1.jsonl"
    orphan.write_text(json.dumps({"type": "event", "n": 1}) + "\n")
    seen: list[dict[str, object]] = []
    assert spool.drain(seen.extend) == 1
    assert seen == [{"type": "event", "n": 1}] and not orphan.exists()
    assert "recovered" in (tmp_path / "logs" / "hook-errors.log").read_text()


def test_more_secret_shapes_are_redacted() -> None:
    assert redact_text("Authorization: Basic dXNlcjpwYXNzd29yZA==") == "Authorization: Basic [REDACTED]"
    for token in ("glpat-" + "x" * 20, "npm_" + "A1" * 18, "hf_" + "q" * 34, "pypi-" + "Ab" * 30):
        assert token not in redact_text(f"export T={token} # note")
    assert redact_text("a basic idea about hf_ names") == "a basic idea about hf_ names"


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_the_opencode_plugin_is_valid_javascript(tmp_path: Path) -> None:
    target = Target(home=tmp_path, project=tmp_path, scope="user", command="/opt/x/nexus", state_dir=tmp_path)
    plugin = tmp_path / "nexus-memory.mjs"
    plugin.write_text(plugin_source(target))
    proc = subprocess.run(["node", "--check", str(plugin)], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    probe = tmp_path / "probe.mjs"
    probe.write_text(f"import {{ NexusMemoryPlugin }} from {json.dumps(str(plugin))};\n"
                     "const hooks = await NexusMemoryPlugin({ directory: '/tmp', worktree: '/tmp' });\n"
                     "console.log(JSON.stringify(Object.keys(hooks).sort()));\n")
    out = subprocess.run(["node", str(probe)], capture_output=True, text=True, check=False, timeout=60)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == ["chat.message", "event", "experimental.chat.system.transform",
                                      "experimental.session.compacting", "tool.execute.after"]


def test_a_paraphrase_clears_the_bar_on_its_cosine_alone(tmp_path: Path) -> None:
    """A hybrid hit from `nexus serve` with no word in common is injected when its cosine is high."""
    from nexus_memory.app import build_app
    from nexus_memory.config import load_settings
    from nexus_memory.services.recall import hits_from_api

    item = {"memory": {"id": 7, "content": "Login is limited to five attempts per minute per IP",
                       "agent_type": "claude-code", "session_key": "old"},
            "score": 0.4, "explain": {"cosine": 0.71, "bm25": 0.0}}
    parsed = hits_from_api([item])
    assert len(parsed) == 1 and parsed[0].cosine == 0.71
    prompt = "how many sign-in tries are allowed?"
    app = build_app(load_settings(), embeddings=False, cognition=False)
    try:
        recall = app.recall
        pack = recall.prompt_pack(prompt, parsed, budget=500, project_root=None, session_key="new")
        assert pack.ids == (7,)
        weak = hits_from_api([{**item, "explain": {"cosine": 0.3}}])
        assert recall.prompt_pack(prompt, weak, budget=500, project_root=None, session_key="new").ids == ()
    finally:
        app.close()
    no_explain = hits_from_api([{"memory": item["memory"], "score": 0.4}])
    assert no_explain[0].cosine is None
