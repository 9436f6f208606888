"""Harness for the real agent CLIs: where the pinned packages are, a clean home per tool, two sessions.

`scripts/services/40-agent-clis.sh` installs the packages named in `scripts/services/agent-clis.list`
into a cache outside the repository; `cli_path` finds them from the variables it exports, or in the
same cache when pytest runs by hand. A `Sandbox` is one user's world: an empty HOME, a git project
whose `notes.txt` holds a fact that appears nowhere else, and its own NEXUS_HOME. Every Nexus step
runs the real `nexus` entry point as a subprocess with that environment, exactly as the hooks do.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.conftest import nexus_executable
from tests.integrations.model_mock import ModelMock, Recorded

REPO = Path(__file__).resolve().parents[2]
LIST = REPO / "scripts" / "services" / "agent-clis.list"

FACT = "the staging database is db-stage-7 on port 6543"
FACT_KEY = "db-stage-7"
SESSION_MARK = "sessionmarkalpha"  # seeded for this project: must arrive with the session-start context
RECALL_MARK = "recallmarkbravo"  # seeded for no project: only the per-prompt recall brings it
PROMPT_1 = "alpha: read the project notes and tell me when you are done"
ANSWER_1 = "I read the project notes."  # the fact stays in the tool output only
PROMPT_2 = "bravo: where does the staging database live?"
ANSWER_2 = "From what I was given: see the context above."


@dataclass(frozen=True)
class Package:
    tool: str
    packages: tuple[str, ...]
    entry: str

    @property
    def var(self) -> str:
        return self.tool.replace("-", "_").upper()

    def folder(self) -> Path:
        root = os.environ.get("NEXUS_NPM_CACHE") or str(
            Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "nexus-memory" / "npm")
        return Path(root) / self.packages[0].replace("/", "+")


def packages() -> dict[str, Package]:
    out = {}
    for line in LIST.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            tool, pkgs, entry = (p.strip() for p in line.split("|"))
            out[tool] = Package(tool, tuple(pkgs.split()), entry)
    return out


def cli_path(tool: str) -> tuple[Path | None, str | None]:
    """(entry point, None) or (None, why the test is skipped). Read at import time: the autouse
    fixture drops NEXUS_* variables before each test runs."""
    pkg = packages()[tool]
    skip = os.environ.get(f"NEXUS_{pkg.var}_SKIP")
    if skip:
        return None, skip
    given = os.environ.get(f"NEXUS_{pkg.var}_CLI")
    path = Path(given) if given else pkg.folder() / "node_modules" / pkg.entry
    if path.exists():
        return path, None
    return None, (f"{' '.join(pkg.packages)} is not installed: run `make test` "
                  "(scripts/services/40-agent-clis.sh installs it with npm)")


@dataclass
class Session:
    proc: subprocess.CompletedProcess[str]
    requests: list[Recorded]  # model requests made while this session ran

    def request_text(self) -> str:
        return "\n".join(r.text() for r in self.requests)


@dataclass
class Sandbox:
    root: Path
    env: dict[str, str] = field(default_factory=dict)

    @property
    def home(self) -> Path:
        return self.root / "home"

    @property
    def project(self) -> Path:
        return self.root / "proj"

    @classmethod
    def create(cls, root: Path) -> Sandbox:
        box = cls(root)
        for d in (box.home, box.project / ".git", root / "tmp", root / "nexus"):
            d.mkdir(parents=True, exist_ok=True)
        (box.project / "notes.txt").write_text(FACT + "\n")
        venv_bin = str(Path(nexus_executable()).parent)
        box.env = {
            "PATH": os.pathsep.join([venv_bin, "/usr/local/bin", "/usr/bin", "/bin"]),
            "HOME": str(box.home), "USER": "nexus-test", "SHELL": "/bin/bash", "LANG": "C.UTF-8",
            "TMPDIR": str(root / "tmp"), "NO_COLOR": "1", "TERM": "dumb", "CI": "1",
            "XDG_CONFIG_HOME": str(box.home / ".config"), "XDG_DATA_HOME": str(box.home / ".local" / "share"),
            "XDG_CACHE_HOME": str(box.home / ".cache"), "XDG_STATE_HOME": str(box.home / ".local" / "state"),
            "NEXUS_HOME": str(root / "nexus"), "NEXUS_EMBEDDING_BACKEND": "none",
        }
        return box

    # -------------------------------------------------------------------------------- nexus
    def nexus(self, *args: str, input: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run([nexus_executable(), *args], input=input, capture_output=True, text=True,
                              env=self.env, cwd=self.project, timeout=120, check=False)

    def install(self, agent: str) -> dict[str, Any]:
        done = self.nexus("hooks", "install", "--agent", agent, "--json")
        assert done.returncode == 0, done.stderr
        result: list[dict[str, Any]] = json.loads(done.stdout)
        return result[0]

    def status(self, agent: str) -> dict[str, Any]:
        done = self.nexus("hooks", "status", "--agent", agent, "--json")
        assert done.returncode == 0, done.stderr
        found: list[dict[str, Any]] = json.loads(done.stdout)
        return next(s for s in found if s["agent"] == agent)

    def seed(self) -> None:
        """Two explicit memories: a fact of this project (the session pack carries it) and a fact of no
        project (only the per-prompt recall brings it, when the prompt asks about it). The second must
        answer PROMPT_2, not just share two of its words: the recall's bar keeps near-misses out."""
        for content, meta in ((f"The deploy freeze for this project starts on Friday ({SESSION_MARK})",
                               {"hook": {"project_root": str(self.project)}}),
                              (f"Where the staging database lives: the infra runbook lists its live endpoint ({RECALL_MARK})", {})):
            done = self.nexus("store", "-m", content, "-a", "claude-code", "-g", "facts",
                              "--metadata-json", json.dumps(meta))
            assert done.returncode == 0, done.stderr

    def memories(self, *, raw: bool = True) -> list[dict[str, Any]]:
        args = ["list", "--json", "-n", "500"] + (["--include-raw"] if raw else [])
        done = self.nexus(*args)
        assert done.returncode == 0, done.stderr
        return _items(json.loads(done.stdout))

    def search(self, query: str) -> list[dict[str, Any]]:
        done = self.nexus("search", "--json", "-n", "10", query)
        assert done.returncode == 0, done.stderr
        return _items(json.loads(done.stdout))

    def settle(self, timeout: float = 60) -> None:
        """Wait until the detached hook worker has stored everything the hooks spooled."""
        script = (
            "import sys, time\n"
            "from nexus_memory.config import load_settings\n"
            "try:\n"  # these internals have moved before: say so plainly if they move again
            "    from nexus_memory.integrations.paths import Paths\n"
            "    from nexus_memory.integrations.hook_drain import drain_running, run_drain\n"
            "except ImportError as exc:\n"
            "    sys.exit(f'update Sandbox.settle: the hook worker API moved ({exc})')\n"
            "s = load_settings(); p = Paths(s); end = time.monotonic() + float(sys.argv[1])\n"
            "while time.monotonic() < end:\n"
            "    run_drain(s)\n"
            "    if not drain_running(s) and not p.events.pending() and not p.work.pending():\n"
            "        sys.exit(0)\n"
            "    time.sleep(0.2)\n"
            "sys.exit(1)\n")
        done = subprocess.run([sys.executable, "-c", script, str(timeout)], env=self.env, capture_output=True,
                              text=True, timeout=timeout + 30, check=False)
        assert done.returncode == 0, f"the hook worker did not finish: {done.stderr[-2000:]}"

    def hook_errors(self) -> str:
        log = self.root / "nexus" / "state" / "logs" / "hook-errors.log"
        candidates = [log, *self.root.glob("nexus/**/hook-errors.log")]
        return "".join(p.read_text() for p in dict.fromkeys(candidates) if p.is_file())

    # -------------------------------------------------------------------------------- sessions
    def run(self, mock: ModelMock, argv: list[str], env: dict[str, str] | None = None, timeout: float = 180,
            ) -> Session:
        before = len(mock.requests)
        started = time.monotonic()
        proc = subprocess.run(argv, cwd=self.project, env={**self.env, **(env or {})}, stdin=subprocess.DEVNULL,
                              capture_output=True, text=True, timeout=timeout, check=False)
        proc.args = [*map(str, argv), f"# {time.monotonic() - started:.1f}s"]
        return Session(proc, [r for r in mock.requests[before:] if r in mock.model_requests()])


def _items(data: Any) -> list[dict[str, Any]]:
    if isinstance(data, dict):
        for key in ("memories", "results", "items", "hits"):
            if isinstance(data.get(key), list):
                data = data[key]
                break
    out = []
    for item in data if isinstance(data, list) else []:
        if isinstance(item, dict) and isinstance(item.get("memory"), dict):
            item = {**item["memory"], "score": item.get("score")}
        out.append(item)
    return out
