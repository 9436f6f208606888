"""The hook path: recall bar, privacy, ignore rules, transcripts, fail-open spool, light imports."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from nexus_memory.config import load_settings
from nexus_memory.integrations.spool import ERROR_LOG, Spool
from tests.conftest import run_nexus
from tests.integrations.helpers import contents, context_of, hook, memories


def _prompt(agent: str, sid: str, cwd: str, text: str) -> dict[str, object]:
    return hook(agent, "UserPromptSubmit", {"session_id": sid, "cwd": cwd, "hook_event_name": "UserPromptSubmit",
                                            "prompt": text})


def test_per_prompt_recall_is_relevant_and_never_repeated(tmp_path: Path) -> None:
    cwd = str(tmp_path)
    _prompt("claude-code", "old", cwd, "The staging database runs PostgreSQL 16 on port 5433")
    _prompt("claude-code", "old", cwd, "Our frontend uses Svelte with Tailwind for styling")
    out = _prompt("codex", "new", cwd, "which port does the staging database listen on?")
    ctx = context_of(out)
    assert "PostgreSQL 16 on port 5433" in ctx and "Svelte" not in ctx
    assert "<nexus_recall>" in ctx
    again = _prompt("codex", "new", cwd, "remind me of the staging database port")
    assert again == {}, "already injected in this session"
    nothing = _prompt("codex", "new", cwd, "write a haiku about autumn leaves")
    assert nothing == {}, "nothing clears the relevance bar"
    other = _prompt("gemini", "third", cwd, "staging database port please")
    assert "5433" in context_of(other), "a different session gets it again"


def test_secrets_and_private_spans_never_reach_the_store(tmp_path: Path) -> None:
    token = "ghp_" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8"
    hook("claude-code", "PostToolUse", {
        "session_id": "p1", "cwd": str(tmp_path), "hook_event_name": "PostToolUse", "tool_name": "Bash",
        "tool_input": {"command": f"curl -H 'Authorization: Bearer {token}' https://api.example.com",
                       "env": {"DB": "postgres://app:hunter2secret@db:5432/x"}},
        "tool_response": {"stdout": "-----BEGIN RSA PRIVATE KEY-----\nMIIEabc\n-----END RSA PRIVATE KEY-----",
                          "stderr": "password=supersecret99"}})
    _prompt("claude-code", "p1", str(tmp_path),
            "remember the wiki layout <private>my home address is 1 Main St</private> for the docs team")
    blob = json.dumps([m.to_dict() for m in memories()])
    for secret in (token, "hunter2secret", "MIIEabc", "supersecret99", "1 Main St"):
        assert secret not in blob
    assert "[REDACTED]" in blob
    spool_dir = load_settings().paths.spool_dir
    assert not any(secret in p.read_text() for p in spool_dir.rglob("*.jsonl") for secret in (token,))


def test_ignore_file_skips_capture_but_not_context(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    (tmp_path / ".nexus").mkdir()
    (tmp_path / ".nexus" / "ignore").write_text("# mine\nsecrets/\ntool:WebFetch\n*.pem\n")
    base = {"session_id": "i1", "cwd": str(tmp_path), "hook_event_name": "PostToolUse"}
    hook("claude-code", "PostToolUse", {**base, "tool_name": "Read",
                                        "tool_input": {"file_path": str(tmp_path / "secrets" / "prod.env")},
                                        "tool_response": "A=1"})
    hook("claude-code", "PostToolUse", {**base, "tool_name": "WebFetch", "tool_input": {"url": "https://x"},
                                        "tool_response": "page"})
    hook("claude-code", "PostToolUse", {**base, "tool_name": "Bash", "tool_input": {"command": "cat server.pem"},
                                        "tool_response": "---"})
    hook("claude-code", "PostToolUse", {**base, "tool_name": "Edit", "tool_input": {"file_path": "src/app.py"},
                                        "tool_response": "ok"})
    stored = contents()
    assert not any("prod.env" in c or "WebFetch" in c or "server.pem" in c for c in stored)
    assert any("src/app.py" in c for c in stored)


def test_session_start_writes_context_md_only_in_a_project(tmp_path: Path) -> None:
    _prompt("claude-code", "a", str(tmp_path), "Always run the linters before pushing a branch")
    bare = tmp_path / "scratch"
    bare.mkdir()
    hook("claude-code", "SessionStart", {"session_id": "b", "cwd": str(bare), "source": "startup"})
    assert not (bare / ".nexus").exists()
    (tmp_path / ".git").mkdir()
    out = hook("claude-code", "SessionStart", {"session_id": "c", "cwd": str(tmp_path), "source": "startup"})
    md = (tmp_path / ".nexus" / "context.md").read_text()
    assert md.startswith("# Nexus Project Context") and "linters before pushing" in md
    assert "linters before pushing" in context_of(out)
    ignored = (tmp_path / ".nexus" / ".gitignore").read_text().split()
    assert "context.md" in ignored and "cache/" in ignored
    # One builder owns context.md: the session pack went through the project's hot cache.
    hot = json.loads((tmp_path / ".nexus" / "cache" / "hot.json").read_text())
    assert any("linters before pushing" in e["content"] for e in hot["entries"])


def test_transcripts_are_read_incrementally(tmp_path: Path) -> None:
    tr = tmp_path / "t.jsonl"
    lines = [
        {"type": "user", "message": {"role": "user", "content": "Set up the CI pipeline for the repo"}},
        {"type": "assistant", "message": {"role": "assistant", "content": [
            {"type": "text", "text": "I added a GitHub Actions workflow running pytest."},
            {"type": "tool_use", "name": "Write", "input": {}}]}},
    ]
    tr.write_text("".join(json.dumps(x) + "\n" for x in lines))
    stop = {"session_id": "t1", "cwd": str(tmp_path), "transcript_path": str(tr), "hook_event_name": "Stop",
            "last_assistant_message": "done"}
    hook("claude-code", "Stop", stop)
    hook("claude-code", "Stop", stop)  # nothing new: nothing stored twice
    # Turns no event delivered are stored from the transcript, once each: what the user typed as
    # theirs (explicit), the assistant's text (the Stop event carried only "done") as an episode.
    said = [m for m in memories() if m.content == "Set up the CI pipeline for the repo"]
    assert len(said) == 1 and said[0].level().value == "explicit"
    notes = [m for m in memories() if "GitHub Actions workflow" in m.content]
    assert len(notes) == 1 and notes[0].content == "I added a GitHub Actions workflow running pytest."
    assert {"transcript", "raw-activity"} <= set(notes[0].labels)
    with tr.open("a") as fh:
        fh.write(json.dumps({"type": "gemini", "content": "Also cached the pip downloads."}) + "\n")
        fh.write('{"type": "user", "message": {"role": "user", "content": "half a line')  # incomplete: not read yet
    hook("claude-code", "PreCompact", {**stop, "hook_event_name": "PreCompact", "trigger": "auto"})
    assert sum("cached the pip downloads" in c for c in contents()) == 1
    assert not any("half a line" in c for c in contents())
    assert sum("CI pipeline" in c for c in contents()) == 1
    marks = load_settings().paths.state_dir / "hooks" / "transcripts"
    assert list(marks.glob("*.json"))
    before = len(contents())
    hook("claude-code", "SessionEnd", {**stop, "hook_event_name": "SessionEnd", "reason": "other"})
    assert not list(marks.glob("*.json")), "the watermark goes with the session"
    assert not [c for c in contents()[before:] if "pip downloads" in c or "CI pipeline" in c]


def test_transcript_turns_already_captured_are_not_stored_again(tmp_path: Path) -> None:
    """The prompt (UserPromptSubmit) and the final message (Stop) arrive as events and in the
    transcript: each text is stored once; what only the transcript has is added."""
    tr = tmp_path / "t.jsonl"
    base = {"session_id": "d1", "cwd": str(tmp_path), "transcript_path": str(tr)}
    prompt = "Find out why the nightly export job is slow"
    final = "The export job scans the whole events table; I added an index on events.created_at."
    _prompt("claude-code", "d1", str(tmp_path), prompt)
    lines = [{"type": "user", "message": {"role": "user", "content": prompt}},
             {"type": "assistant", "message": {"role": "assistant", "content": [
                 {"type": "text", "text": "Let me look at the query plan first."}]}},
             {"type": "assistant", "message": {"role": "assistant", "content": [{"type": "text", "text": final}]}}]
    tr.write_text("".join(json.dumps(x) + "\n" for x in lines))
    hook("claude-code", "Stop", {**base, "hook_event_name": "Stop", "last_assistant_message": final})
    stored = contents()
    assert stored.count(prompt) == 1 and stored.count(final) == 1
    assert stored.count("Let me look at the query plan first.") == 1
    finding = next(m for m in memories() if m.content == final)
    assert "finding" in finding.labels


def test_broken_database_spools_then_drains(tmp_path: Path) -> None:
    settings = load_settings()
    db = settings.database_path
    db.parent.mkdir(parents=True, exist_ok=True)
    db.write_bytes(b"this is not a sqlite database" * 100)
    payload = {"session_id": "s", "cwd": str(tmp_path), "hook_event_name": "PostToolUse", "tool_name": "Bash",
               "tool_input": {"command": "make release"}, "tool_response": "build ok: version 2.1"}
    assert hook("claude-code", "PostToolUse", payload) == {}
    spool = Spool(settings.paths.spool_dir, settings.paths.log_dir)
    assert spool.count() == 1
    log = (settings.paths.log_dir / ERROR_LOG).read_text()
    assert "database unavailable, 1 event(s) stay in the spool" in log
    # a prompt needs the database at once: it fails open with no context, its event spooled too
    assert hook("claude-code", "UserPromptSubmit", {"session_id": "s", "cwd": str(tmp_path),
                                                    "prompt": "what did the release build print?"}) == {}
    assert spool.count() == 2
    db.unlink()
    hook("claude-code", "PostToolUse", {**payload, "tool_input": {"command": "make test"},
                                        "tool_response": "12 passed"})
    assert spool.count() == 0
    stored = contents()
    assert any("make release" in c for c in stored) and any("make test" in c for c in stored)
    hook("claude-code", "PostToolUse", payload)  # the same event again: merged, not duplicated
    assert sum(c.startswith("$ make release") for c in contents()) == 1


def test_the_cli_hook_fails_open_and_imports_nothing_heavy(tmp_path: Path) -> None:
    payload = json.dumps({"session_id": "x", "cwd": str(tmp_path), "hook_event_name": "PostToolUse",
                          "tool_name": "Bash", "tool_input": {"command": "pytest"}, "tool_response": "1 passed"})
    proc = run_nexus("hook", "claude-code", "PostToolUse", input=payload)
    assert proc.returncode == 0 and json.loads(proc.stdout) == {}
    bad_cfg = tmp_path / "bad.toml"
    bad_cfg.write_text("this = = broken")
    proc = run_nexus("hook", "gemini", "BeforeAgent", input="{}", env={"NEXUS_CONFIG_FILE": str(bad_cfg)})
    assert proc.returncode == 0 and json.loads(proc.stdout) == {}
    probe = ("import sys, io, json\nsys.argv=['nexus','hook','claude-code','UserPromptSubmit']\n"
             "sys.stdin=io.TextIOWrapper(io.BytesIO(json.dumps({'session_id':'y','cwd':'/tmp','prompt':'database port"
             " for staging'}).encode()))\nfrom nexus_memory.cli.main import main\nmain()\n"
             "heavy={'numpy','onnxruntime','fastapi','mcp','httpx','psycopg','tokenizers','uvicorn','starlette'}\n"
             "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules} & heavy)))\n")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60,
                         env=dict(os.environ), check=False)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "[]"


def test_spool_and_log_caps(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool", tmp_path / "logs", max_bytes=300)
    assert spool.append([{"a": "x" * 100}])
    assert not spool.append([{"a": "y" * 300}])
    assert spool.count() == 1
    assert "spool full" in (tmp_path / "logs" / ERROR_LOG).read_text()
    seen: list[object] = []
    assert spool.drain(seen.extend) == 1 and seen == [{"a": "x" * 100}] and not spool.pending()

    def boom(records: list[dict[str, object]]) -> None:
        raise RuntimeError("db busy")

    spool.append([{"b": 1}])
    with pytest.raises(RuntimeError):
        spool.drain(boom)
    assert spool.count() == 1, "a failed drain puts every record back"
