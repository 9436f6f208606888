"""Twenty hook processes at once, from three agent tools, into one SQLite database."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

from nexus_memory.config import load_settings
from nexus_memory.integrations.hook_drain import drain_running
from nexus_memory.integrations.spool import Spool
from tests.conftest import nexus_executable
from tests.integrations.helpers import contents

AGENTS = (("claude-code", "PostToolUse"), ("gemini", "AfterTool"), ("codex", "PostToolUse"))


def test_twenty_concurrent_hooks_store_every_event_once(tmp_path: Path) -> None:
    procs = []
    for i in range(20):
        agent, event = AGENTS[i % 3]
        cmd = f"pytest -q tests/unit_{i:02d}"
        if i % 4 == 3:  # prompts write the database directly (they need it for recall)
            event = "BeforeAgent" if agent == "gemini" else "UserPromptSubmit"
            payload = {"session_id": f"{agent}-s{i % 2}", "cwd": str(tmp_path), "hook_event_name": event,
                       "prompt": f"please look at the failing unit test number {i:02d} in the suite"}
            p = subprocess.Popen([nexus_executable(), "hook", agent, event], stdin=subprocess.PIPE,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            procs.append((p, json.dumps(payload)))
            continue
        payload = {"session_id": f"{agent}-s{i % 2}", "cwd": str(tmp_path), "hook_event_name": event,
                   "tool_name": "run_shell_command" if agent == "gemini" else "Bash",
                   "tool_input": {"command": cmd}, "tool_response": f"{i} passed in 0.{i}s"}
        p = subprocess.Popen([nexus_executable(), "hook", agent, event], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        procs.append((p, json.dumps(payload)))
    for p, data in procs:  # every process is running; now release them all at once
        assert p.stdin is not None
        p.stdin.write(data)
        p.stdin.close()
    for p, _ in procs:
        assert p.wait(timeout=120) == 0
        assert p.stdout is not None and p.stderr is not None
        out, err = p.stdout.read(), p.stderr.read()
        assert isinstance(json.loads(out), dict), err
    # The turn ends: each tool's Stop hook hands what the turn spooled to the (single) worker.
    stops = [subprocess.Popen([nexus_executable(), "hook", agent, "AfterAgent" if agent == "gemini" else "Stop"],
                              stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, text=True)
             for agent, _ in AGENTS]
    for stop, (agent, _) in zip(stops, AGENTS, strict=True):
        stop.communicate(json.dumps({"session_id": f"{agent}-s0", "cwd": str(tmp_path)}), timeout=120)
    settings = load_settings()
    spool = Spool(settings.paths.spool_dir, settings.paths.log_dir)
    deadline = time.monotonic() + 90  # capture hooks hand their events to a detached worker
    while (spool.pending() or drain_running(settings)) and time.monotonic() < deadline:
        time.sleep(0.2)
    stored = contents()
    for i in range(20):
        # each event once: the prompt, or the tool call's episode (its extracted fact line aside)
        marker = f"test number {i:02d} in" if i % 4 == 3 else f"$ pytest -q tests/unit_{i:02d}\n"
        hits = [c for c in stored if marker in c]
        assert len(hits) == 1, (i, hits)
    assert spool.count() == 0
    log = settings.paths.log_dir / "hook-errors.log"
    assert not log.exists(), log.read_text()
    starts = [c for c in stored if c.startswith("Runtime runtime session start")]
    assert len(starts) == 6, "one runtime start marker per (agent, session)"
