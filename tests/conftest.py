"""Shared fixtures: every test gets its own NEXUS_HOME, real SQLite files in temp folders."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from nexus_memory.app import App, build_app
from nexus_memory.config import load_settings


@pytest.fixture(autouse=True)
def nexus_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Redirect every user directory; drop inherited NEXUS_* settings."""
    for key in list(os.environ):
        if key.startswith("NEXUS_") and key not in ("NEXUS_TEST_DATABASE_URL",):
            monkeypatch.delenv(key, raising=False)
    home = tmp_path / "nexus-home"
    monkeypatch.setenv("NEXUS_HOME", str(home))
    monkeypatch.setenv("NEXUS_EMBEDDING_BACKEND", "none")
    return home


@pytest.fixture
def app(nexus_home: Path) -> Iterator[App]:
    application = build_app(load_settings())
    yield application
    application.close()


def nexus_executable() -> str:
    candidate = Path(sys.executable).with_name("nexus")
    if candidate.exists():
        return str(candidate)
    found = shutil.which("nexus")
    if not found:
        raise RuntimeError("the nexus console script is not installed; run `make test`")
    return found


def run_nexus(*args: str, input: str | None = None, env: dict[str, str] | None = None,
              cwd: Path | None = None, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Run the real `nexus` entry point in a subprocess."""
    full_env = dict(os.environ)
    if env:
        full_env.update(env)
    return subprocess.run(
        [nexus_executable(), *args], input=input, capture_output=True, text=True, env=full_env,
        cwd=cwd, timeout=timeout, check=False,
    )


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database (with pgvector) for one test, dropped afterwards.

    Needs the server `make test` starts (scripts/services/10-postgres.sh exports
    NEXUS_TEST_DATABASE_URL); skipped without it.
    """
    from tests.pg import fresh_database

    yield from fresh_database()
