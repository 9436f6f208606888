"""A real agent CLI inside a git worktree (issue 16): what Claude Code found on a feature branch, in
its own worktree, reaches a session in the repository's main worktree once the branch is merged.

Same harness as test_agent_clis_e2e.py (pinned CLI, loopback model mock, clean HOME), but the project
is a real repository: `proj/` on main, `wt/` a linked worktree on `feature/notes` that alone holds the
notes file. Session 1 runs in `wt/` and reads the notes with the shell tool; the branch is merged;
session 2 runs in `proj/`, a different folder of the same repository.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.integrations.agent_cli import ANSWER_1, ANSWER_2, FACT, FACT_KEY, PROMPT_1, PROMPT_2, Sandbox, cli_path
from tests.integrations.cli_drivers import DRIVERS
from tests.integrations.model_mock import Turn, model_mock

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

SKIP = cli_path(DRIVERS["claude-code"].tool)[1]  # at import: NEXUS_* is dropped later


@dataclass
class WorktreeBox(Sandbox):
    where: str = "proj"

    @property
    def project(self) -> Path:  # type: ignore[override]  # the folder sessions run in, switched by the test
        return self.root / self.where

    def git(self, *args: str, cwd: str = "proj") -> str:
        env = {**self.env, "GIT_AUTHOR_NAME": "T", "GIT_AUTHOR_EMAIL": "t@example.invalid",
               "GIT_COMMITTER_NAME": "T", "GIT_COMMITTER_EMAIL": "t@example.invalid"}
        done = subprocess.run(["git", *args], cwd=self.root / cwd, env=env, capture_output=True, text=True,
                              timeout=60, check=False)
        assert done.returncode == 0, done.stderr
        return done.stdout.strip()


@pytest.mark.skipif(SKIP is not None, reason=SKIP or "")
def test_claude_code_in_a_worktree_shares_the_repository_memory(tmp_path: Path) -> None:
    driver = DRIVERS["claude-code"]
    box = WorktreeBox.create(tmp_path)
    box.env.update(driver.home_env(box))
    shutil.rmtree(box.root / "proj" / ".git")
    (box.root / "proj" / "notes.txt").unlink()
    (box.root / "proj" / "README.md").write_text("a project\n")
    box.git("init", "-q", "-b", "main")
    box.git("add", "-A")
    box.git("commit", "-q", "-m", "first")
    box.git("worktree", "add", "-q", "-b", "feature/notes", str(box.root / "wt"))
    (box.root / "wt" / "notes.txt").write_text(FACT + "\n")
    box.git("add", "notes.txt", cwd="wt")
    box.git("commit", "-q", "-m", "notes", cwd="wt")
    with model_mock([Turn("alpha", ANSWER_1, "cat notes.txt"), Turn("bravo", ANSWER_2)]) as mock:
        driver.prepare(box)
        box.install("claude-code")
        driver.configure(box, mock)
        box.where = "wt"
        s1 = box.run(mock, driver.argv(box, PROMPT_1, 1), driver.env(box, mock, 1))
        box.settle()
        assert s1.proc.returncode == 0, s1.proc.stderr[-2000:]
        assert FACT in s1.request_text(), "the shell tool's output never reached the model"
        box.git("merge", "-q", "--no-ff", "-m", "merge notes", "feature/notes")
        box.where = "proj"
        s2 = box.run(mock, driver.argv(box, PROMPT_2, 2), driver.env(box, mock, 2))
        box.settle()
    assert s2.proc.returncode == 0, s2.proc.stderr[-2000:]
    assert box.hook_errors() == "", box.hook_errors()
    captured = [m for m in box.memories(raw=True) if FACT_KEY in str(m.get("content"))]
    assert captured, "the fact from the worktree's tool output was not captured"
    hook: dict[str, Any] = captured[0]["metadata"]["hook"]
    shown = json.loads(box.nexus("project", "--json").stdout)
    assert hook["project_id"] == shown["key"] and shown["key"].startswith("git:")
    assert hook["branch"] == "feature/notes" and hook["worktree"] == str((box.root / "wt").resolve())
    assert FACT_KEY in s2.request_text(), "the worktree's fact did not reach the main worktree's session"
