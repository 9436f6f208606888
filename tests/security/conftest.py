"""Case counts of the bad-input suite, reported at the end of every run that includes it."""

from __future__ import annotations

from collections import Counter
from typing import Any

#: surface -> cases run (each one: a hostile input sent, its answer checked, the stored data checked).
CASES: Counter[str] = Counter()


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not CASES:
        return
    terminalreporter.section("bad-input suite (issue 15)")
    for surface, n in sorted(CASES.items()):
        terminalreporter.write_line(f"{surface:<28} {n:>5} cases")
    terminalreporter.write_line(f"{'total':<28} {sum(CASES.values()):>5} cases")
