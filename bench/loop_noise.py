"""Everyday sessions that answer no probe (bench/loop.py --noise N).

A real project's store holds far more than the few sessions a probe is about: lint runs, test runs,
refactors, dependency bumps, questions about unrelated code. These sessions are generated from
templates with a fixed seed per project, so every run replays the same ones; they share words with
the probes ("test", "config", "port", "version", "deploy") without holding their answers, which is
what makes a relevance bar and a token budget earn their keep.
"""

from __future__ import annotations

import random
from typing import Any

_MODULES = ["auth", "billing", "search", "users", "reports", "notifications", "orders", "catalog", "export",
            "audit", "sessions", "uploads", "webhooks", "scheduler", "metrics", "feature_flags"]
_FUNCS = ["parse_request", "load_config", "render_page", "validate_input", "retry_call", "build_query",
          "format_date", "paginate", "hash_token", "normalize_email", "merge_settings", "to_csv"]
_LIBS = [("requests", "2.32.3"), ("pydantic", "2.9.2"), ("sqlalchemy", "2.0.36"), ("httpx", "0.27.2"),
         ("celery", "5.4.0"), ("jinja2", "3.1.4"), ("pytest", "8.3.3"), ("ruff", "0.7.1"), ("mypy", "1.13.0"),
         ("boto3", "1.35.40"), ("redis", "5.1.1"), ("uvicorn", "0.32.0")]


def _lint(r: random.Random) -> list[dict[str, Any]]:
    mod = r.choice(_MODULES)
    n = r.randint(2, 9)
    lines = "\n".join(f"src/{mod}/{r.choice(_FUNCS)}.py:{r.randint(10, 300)}:{r.randint(1, 40)}: "
                      f"{r.choice(['E501 Line too long', 'F401 unused import', 'B008 call in default'])}"
                      for _ in range(n))
    return [{"user": f"fix the lint errors in the {mod} module"},
            {"bash": f"ruff check src/{mod}", "exit": 1, "out": f"{lines}\nFound {n} errors."},
            {"bash": f"ruff check --fix src/{mod}", "out": f"Found {n} errors ({n} fixed, 0 remaining)."},
            {"assistant": f"Fixed {n} lint errors in src/{mod}; ruff is clean now."}]


def _tests(r: random.Random) -> list[dict[str, Any]]:
    mod = r.choice(_MODULES)
    passed = r.randint(20, 300)
    secs = round(r.uniform(0.5, 40), 2)
    return [{"user": f"run the {mod} tests"},
            {"bash": f"pytest tests/{mod} -q", "out": "." * min(passed, 80) + f"\n{passed} passed in {secs}s"},
            {"assistant": f"All {passed} {mod} tests pass ({secs} s)."}]


def _refactor(r: random.Random) -> list[dict[str, Any]]:
    mod, func = r.choice(_MODULES), r.choice(_FUNCS)
    return [{"user": f"split {func} in {mod} into smaller helpers"},
            {"read": f"src/{mod}/core.py", "out": f"def {func}(data, *, strict=False):\n    # 120 lines\n    ..."},
            {"edit": f"src/{mod}/core.py", "old": f"def {func}(data, *, strict=False):",
             "new": f"def {func}(data, *, strict=False):\n    return _{func}_impl(_prepare(data), strict)"},
            {"bash": f"pytest tests/{mod} -q", "out": f"{r.randint(10, 90)} passed in {round(r.uniform(1, 9), 2)}s"},
            {"assistant": f"{func} now delegates to _prepare and _{func}_impl in src/{mod}/core.py; tests pass."}]


def _bump(r: random.Random) -> list[dict[str, Any]]:
    lib, ver = r.choice(_LIBS)
    major, minor, patch = ver.split(".")
    new = f"{major}.{minor}.{int(patch) + r.randint(1, 3)}"
    return [{"user": f"bump {lib} to the latest patch release"},
            {"bash": f"pip index versions {lib}", "out": f"{lib} ({new})\nAvailable versions: {new}, {ver}"},
            {"edit": "requirements.txt", "old": f"{lib}=={ver}", "new": f"{lib}=={new}"},
            {"assistant": f"Bumped {lib} from {ver} to {new} in requirements.txt."}]


def _git(r: random.Random) -> list[dict[str, Any]]:
    mod = r.choice(_MODULES)
    log = "\n".join(f"{r.getrandbits(28):07x} {r.choice(['fix', 'add', 'refactor', 'docs'])}: {mod} "
                    f"{r.choice(['edge case', 'timeouts', 'logging', 'pagination', 'typo'])}" for _ in range(5))
    return [{"user": f"what changed recently in {mod}?"},
            {"bash": f"git log --oneline -5 -- src/{mod}", "out": log},
            {"assistant": f"The last five commits to src/{mod} are small fixes and refactors; nothing changes "
                          f"its public interface."}]


def _question(r: random.Random) -> list[dict[str, Any]]:
    mod, func = r.choice(_MODULES), r.choice(_FUNCS)
    return [{"user": f"how does {func} handle empty input in {mod}?"},
            {"grep": f"def {func}", "out": f"src/{mod}/core.py:{r.randint(5, 200)}:def {func}(data, *, strict=False):"},
            {"assistant": f"{func} returns early with an empty result when data is empty, unless strict=True, "
                          f"where it raises ValueError."}]


def _docs(r: random.Random) -> list[dict[str, Any]]:
    mod = r.choice(_MODULES)
    return [{"user": f"document the {mod} settings in the README"},
            {"read": "README.md", "out": f"# Project\n\n## Setup\n\nRun `make dev`.\n\n## {mod.title()}\n\nTODO"},
            {"edit": "README.md", "old": "TODO", "new": f"The {mod} module reads its settings from the "
                                                       f"environment ({mod.upper()}_*)."},
            {"assistant": f"Added a {mod} section to the README."}]


TEMPLATES = [_lint, _tests, _refactor, _bump, _git, _question, _docs]


def noise_sessions(project: str, n: int) -> list[list[dict[str, Any]]]:
    """`n` everyday sessions for `project` (the same ones on every run)."""
    r = random.Random(f"noise:{project}")
    return [r.choice(TEMPLATES)(r) for _ in range(n)]
