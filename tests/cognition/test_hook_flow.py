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
                              "tool_input": {"command": "ls -la"}, "tool_response": {"stdout": f"file{i}"}})
    _hook("SessionEnd", {**base, "hook_event_name": "SessionEnd"})
    # The hook detaches end-of-session work (tools give hooks ~1 s): wait for it to land.
    summaries: list[dict[str, object]] = []
    deadline = time.monotonic() + 60
    while not summaries and time.monotonic() < deadline:
        time.sleep(0.5)
        items = json.loads(run_nexus("list", "-a", "claude-code", "--json").stdout)["memories"]
        summaries = [m for m in items if m["cognitive_level"] == "summary_short" and "activity-summary" in m["labels"]]
    assert len(summaries) == 1
    content = str(summaries[0]["content"])
    assert "9 low-signal hook events across 1 tool(s)" in content and str(tmp_path) in content
    jobs = json.loads(run_nexus("jobs", "list", "--json").stdout)
    assert jobs["counts"]["failed"] == 0
