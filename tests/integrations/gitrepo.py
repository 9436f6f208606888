"""A real git repository built by the tests (issue 16): commits, branches, a merge, a rename, a
deletion and two worktrees, driven with the real `git`."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

APP_PY = '''"""The app."""


def connect(host, port=6543):
    """Open the database connection."""
    return (host, port)


def retry(times=3):
    return times
'''


class Repo:
    def __init__(self, root: Path) -> None:
        self.root = root

    def git(self, *args: str, cwd: Path | None = None) -> str:
        env = {**os.environ, "GIT_AUTHOR_NAME": "T", "GIT_AUTHOR_EMAIL": "t@example.invalid",
               "GIT_COMMITTER_NAME": "T", "GIT_COMMITTER_EMAIL": "t@example.invalid", "GIT_CONFIG_NOSYSTEM": "1",
               "HOME": str(self.root.parent)}
        out = subprocess.run(["git", *args], cwd=cwd or self.root, capture_output=True, text=True, env=env,
                             timeout=30, check=False)
        if out.returncode:
            raise AssertionError(f"git {' '.join(args)}: {out.stderr}")
        return out.stdout.strip()

    def write(self, rel: str, text: str, cwd: Path | None = None) -> None:
        path = (cwd or self.root) / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")

    def commit(self, message: str, cwd: Path | None = None) -> str:
        self.git("add", "-A", cwd=cwd)
        self.git("commit", "-q", "-m", message, cwd=cwd)
        return self.git("rev-parse", "HEAD", cwd=cwd)

    def head(self, cwd: Path | None = None) -> str:
        return self.git("rev-parse", "HEAD", cwd=cwd)


def build(base: Path) -> Repo:
    """`repo/` on main with src/app.py, src/util.py, deploy/settings.toml and old.py; branches
    `feature/merged` (merged into main) and `feature/abandoned` (never merged)."""
    repo = Repo(base / "repo")
    repo.root.mkdir(parents=True)
    repo.git("init", "-q", "-b", "main")
    repo.write("src/app.py", APP_PY)
    repo.write("src/util.py", "def slugify(text):\n    return text.lower().replace(' ', '-')\n")
    repo.write("deploy/settings.toml", "[db]\nhost = 'db-stage-7'\nport = 6543\n")
    repo.write("old.py", "LEGACY = True\n")
    repo.commit("first")
    repo.git("branch", "feature/merged")
    repo.git("branch", "feature/abandoned")
    return repo
