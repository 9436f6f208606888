"""End to end through the real hook command: raw activity is distilled when the session ends."""

from __future__ import annotations

import json
import time
from pathlib import Path

from tests.conftest import run_nexus


def _hook(event: str, payload: dict[str, object]) -> None:
    r = run_nexus("hook", "claude-code", event, input=json.dumps(payload))
    assert r.returncode == 0, r.stderr


def test_raw_hook_activity_is_distilled_at_session_end(tmp_path: Path) -> None:
    base = {"session_id": "flow-1", "cwd": str(tmp_path)}
    for i in range(9):
        _hook("PostToolUse", {**base, "hook_event_name": "PostToolUse", "tool_name": "Bash",
                              "tool_input": {"command": f"cat conf/part{i}.ini"},
                              "tool_response": {"stdout": f"timeout_seconds = {30 + i}"}})
    _hook("SessionEnd", {**base, "hook_event_name": "SessionEnd"})
    # The hook detaches end-of-session work (tools give hooks ~1 s): wait for it to land.
    episodes: list[dict[str, object]] = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        time.sleep(0.5)
        items = json.loads(run_nexus("list", "-a", "claude-code", "--include-raw", "--limit", "100", "--json").stdout)["memories"]
        episodes = [m for m in items if m["cognitive_level"] == "raw" and "tool" in m["labels"]]
        if len(episodes) == 9 and all(not m["metadata"]["raw_activity"]["distill_pending"] for m in episodes):
            break
    assert len(episodes) == 9 and all(not m["metadata"]["raw_activity"]["distill_pending"] for m in episodes)
    assert not any(m["is_archived"] for m in episodes), "the episodes stay the record"
    facts = [m for m in items if "extracted" in m["labels"]]
    assert len(facts) == 9 and any("timeout_seconds = 33" in str(m["content"]) for m in facts)
    jobs = json.loads(run_nexus("jobs", "list", "--json").stdout)
    assert jobs["counts"]["failed"] == 0
