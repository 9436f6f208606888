"""Issue 15, findings 1, 5, 8 and 11: hostile hook payloads never block, lose or crash anything."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

from nexus_memory.config import load_settings
from nexus_memory.integrations.hook import Paths
from nexus_memory.integrations.hook_drain import run_drain
from nexus_memory.integrations.spool import ERROR_LOG, REJECTED_NAME, Spool
from nexus_memory.integrations.transcripts import MAX_READ_BYTES, read_new
from tests.conftest import nexus_executable
from tests.integrations.helpers import contents, hook


def _post(tmp_path: Path, command: str, **extra: object) -> dict[str, object]:
    return {"session_id": "s1", "cwd": str(tmp_path), "hook_event_name": "PostToolUse", "tool_name": "Bash",
            "tool_input": {"command": command}, "tool_response": f"{command}: ok", **extra}


def test_nan_and_a_long_tool_name_do_not_block_later_events(tmp_path: Path) -> None:
    """Finding 1 as reported: a NaN payload and a 120-character tool name, then ordinary events."""
    nan_payload = json.dumps(_post(tmp_path, "make nan")).replace('"ok"', "NaN").replace(
        '"make nan: ok"', "NaN")
    assert "NaN" in nan_payload
    hook("claude-code", "PostToolUse", nan_payload)
    hook("claude-code", "PostToolUse", _post(tmp_path, "make long", tool_name="T" * 120))
    for i in range(3):
        hook("claude-code", "PostToolUse", _post(tmp_path, f"make step{i}"))
    stored = "\n".join(contents())
    for i in range(3):
        assert f"make step{i}" in stored
    assert "make nan" in stored and "make long" in stored, "sanitised, not dropped"
    assert Spool(load_settings().paths.spool_dir, load_settings().paths.log_dir).count() == 0


def test_a_record_that_cannot_be_stored_is_set_aside_once(tmp_path: Path) -> None:
    """Whatever slips past normalisation: the worker sets that record aside and stores the rest."""
    settings = load_settings()
    paths = Paths(settings)
    good = [{"type": "event", "event": {"agent": "claude-code", "kind": "tool", "event_name": "PostToolUse",
                                        "observed_at": "2026-01-01T00:00:00Z", "session_id": "s2", "cwd": str(tmp_path),
                                        "tool_name": "Bash", "tool_input": {"command": f"cargo build {i}"},
                                        "tool_response": f"built {i}",
                                        "raw": {"tool_input": {"command": f"cargo build {i}"}}}} for i in range(3)]
    poisoned = json.loads(json.dumps(good[0]))
    poisoned["event"]["session_id"] = {"not": ["a", "string"]}  # a spool line no normaliser wrote
    poisoned["event"]["tool_input"] = {"command": "cargo poison"}
    poisoned["event"]["tool_response"] = "poison"
    assert paths.events.append([good[0], poisoned, good[1], good[2]])
    run_drain(settings)
    stored = "\n".join(contents())
    assert all(f"cargo build {i}" in stored for i in range(3))
    assert not paths.events.pending(), "the bad record does not go back to the spool"
    rejected = (settings.paths.spool_dir / REJECTED_NAME).read_text().splitlines()
    assert len(rejected) == 1 and json.loads(rejected[0])["reason"]
    assert json.loads(rejected[0])["record"]["event"]["tool_input"] == {"command": "cargo poison"}
    log = (settings.paths.log_dir / ERROR_LOG).read_text()
    assert log.count("cannot be stored") == 1
    run_drain(settings)  # nothing left to retry: logged once, not once per hand-off
    assert (settings.paths.log_dir / ERROR_LOG).read_text().count("cannot be stored") == 1


def test_lone_surrogates_are_replaced_and_the_event_kept(tmp_path: Path) -> None:
    payload = json.dumps(_post(tmp_path, "echo half")).replace("half", "half \\ud800 done")
    assert hook("claude-code", "PostToolUse", payload) == {}
    stored = [c for c in contents() if "echo half" in c]
    assert stored and "\ufffd" in stored[0] and "done" in stored[0]


def _run_hook_stdin(stdin: object, tmp_path: Path) -> tuple[subprocess.CompletedProcess[bytes], float]:
    start = time.monotonic()
    proc = subprocess.run([nexus_executable(), "hook", "claude-code", "PostToolUse"], stdin=stdin,  # type: ignore[arg-type]
                          capture_output=True, timeout=30, check=False, cwd=tmp_path)
    return proc, time.monotonic() - start


def test_an_endless_or_huge_stdin_is_read_bounded(tmp_path: Path) -> None:
    """Finding 8: /dev/zero and 20 MB payloads: exit 0 with `{}`, no traceback, nothing half-stored."""
    with open("/dev/zero", "rb") as zero:
        proc, _ = _run_hook_stdin(zero, tmp_path)
    assert proc.returncode == 0 and json.loads(proc.stdout) == {} and b"Traceback" not in proc.stderr
    big = tmp_path / "big.json"
    big.write_text(json.dumps(_post(tmp_path, "make huge", tool_response="x" * 20_000_000)))
    with big.open("rb") as fh:
        proc, _ = _run_hook_stdin(fh, tmp_path)
    assert proc.returncode == 0 and json.loads(proc.stdout) == {} and b"Traceback" not in proc.stderr
    log = (load_settings().paths.log_dir / ERROR_LOG).read_text()
    assert log.count("payload over") == 2
    # just under the cap: stored, with the long field capped before it was redacted
    near = tmp_path / "near.json"
    near.write_text(json.dumps(_post(tmp_path, "make near", tool_response="y" * 3_000_000)))
    with near.open("rb") as fh:
        proc, _ = _run_hook_stdin(fh, tmp_path)
    assert proc.returncode == 0 and json.loads(proc.stdout) == {}


def test_an_oversized_transcript_line_is_skipped_and_recorded(tmp_path: Path) -> None:
    """Finding 5: a line over the read cap, then more turns: later turns are read, the skip is counted."""
    tr = tmp_path / "t.jsonl"
    first = {"type": "user", "message": {"role": "user", "content": "before the screenshot"}}
    huge = {"type": "user", "message": {"role": "user", "content": [
        {"type": "image", "source": {"data": "A" * (MAX_READ_BYTES + 100_000)}}]}}
    after = {"type": "assistant", "message": {"role": "assistant", "content": "after the screenshot"}}
    tr.write_text(json.dumps(first) + "\n" + json.dumps(huge) + "\n" + json.dumps(after) + "\n")
    turns, mark = read_new(tr, {})  # skips the line and goes on
    assert [t.text for t in turns] == ["before the screenshot", "after the screenshot"]
    assert mark["skipped_lines"] == 1
    assert mark["offset"] == tr.stat().st_size and mark["last_skip_offset"] < MAX_READ_BYTES
    # a huge line still being written: remembered as scanned, finished later
    tr2 = tmp_path / "t2.jsonl"
    tr2.write_text(json.dumps(first) + "\n" + '{"type": "user", "message": "' + "B" * (MAX_READ_BYTES + 10))
    _, mark = read_new(tr2, read_new(tr2, {})[1])
    assert mark["scan"] > mark["offset"]
    with tr2.open("a") as fh:
        fh.write('"}\n' + json.dumps(after) + "\n")
    turns, mark = read_new(tr2, mark)
    assert mark["skipped_lines"] == 1 and [t.text for t in turns] == ["after the screenshot"]
    # through the hook: the Stop after the screenshot stores the later turn and logs the skip
    stop = {"session_id": "t9", "cwd": str(tmp_path), "transcript_path": str(tr), "hook_event_name": "Stop"}
    hook("claude-code", "Stop", stop)
    assert any("after the screenshot" in c for c in contents())
    assert "was skipped" in (load_settings().paths.log_dir / ERROR_LOG).read_text()
