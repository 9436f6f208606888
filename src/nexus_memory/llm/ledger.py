"""Token and cost ledger per job and per day, with a daily token budget.

Users of peer tools were surprised by large background bills; here every call
is counted before and after it runs, and once the day's budget is spent no
provider is called until the next UTC day: stages take their deterministic path.

The ledger is a small JSON file shared by every process (an exclusive file lock
around read-modify-write). It is bounded: 31 days of totals and the last 500
calls.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from nexus_memory.domain.timeutil import Clock, to_iso, utcnow

KEEP_DAYS = 31
KEEP_CALLS = 500

#: USD per million tokens (prompt, completion); unknown models count as 0 and say so.
PRICES: dict[str, tuple[float, float]] = {
    "gpt-4o-mini": (0.15, 0.60),
    "gpt-4o": (2.50, 10.0),
    "gpt-4.1-mini": (0.40, 1.60),
    "claude-sonnet-4-20250514": (3.0, 15.0),
    "claude-3-5-haiku-latest": (0.80, 4.0),
    "llama-3.3-70b-versatile": (0.59, 0.79),
    "mistral-small-latest": (0.10, 0.30),
}


def cost_usd(model: str, prompt: int, completion: int) -> float | None:
    price = PRICES.get(model)
    if price is None:
        return None
    return round(prompt / 1e6 * price[0] + completion / 1e6 * price[1], 6)


@dataclass(frozen=True, slots=True)
class DayTotals:
    day: str
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float
    calls: int
    fallbacks: int

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    lock = path.with_name(path.name + ".lock")
    fd = os.open(lock, os.O_CREAT | os.O_RDWR, 0o600)
    try:
        try:
            import fcntl

            fcntl.flock(fd, fcntl.LOCK_EX)
        except ImportError:  # pragma: no cover - non-POSIX
            pass
        yield
    finally:
        os.close(fd)


class TokenLedger:
    def __init__(self, path: Path, *, daily_budget: int, clock: Clock = utcnow) -> None:
        self.path = path
        self.daily_budget = int(daily_budget)
        self.clock = clock

    def _today(self) -> str:
        return self.clock().strftime("%Y-%m-%d")

    def _load(self) -> dict[str, Any]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {"days": {}, "calls": []}
        if not isinstance(data, dict):
            return {"days": {}, "calls": []}
        data.setdefault("days", {})
        data.setdefault("calls", [])
        return data

    def _save(self, data: dict[str, Any]) -> None:
        days = data["days"]
        for day in sorted(days)[:-KEEP_DAYS]:
            del days[day]
        data["calls"] = data["calls"][-KEEP_CALLS:]
        tmp = self.path.with_name(self.path.name + ".tmp")
        tmp.write_text(json.dumps(data, separators=(",", ":")), encoding="utf-8")
        os.replace(tmp, self.path)

    def totals(self, day: str | None = None) -> DayTotals:
        d = day or self._today()
        row = self._load()["days"].get(d) or {}
        return DayTotals(d, int(row.get("prompt_tokens", 0)), int(row.get("completion_tokens", 0)),
                         float(row.get("cost_usd", 0.0)), int(row.get("calls", 0)), int(row.get("fallbacks", 0)))

    def remaining(self) -> int:
        return max(0, self.daily_budget - self.totals().tokens)

    def exhausted(self) -> bool:
        return self.daily_budget <= 0 or self.remaining() <= 0

    def can_spend(self, estimate: int) -> bool:
        """True when the estimated call fits in what is left of today's budget."""
        return self.daily_budget > 0 and self.remaining() >= max(1, estimate)

    def record(self, *, stage: str, job_id: int | None, provider: str, model: str, prompt_tokens: int,
               completion_tokens: int, ok: bool = True, note: str | None = None) -> None:
        cost = cost_usd(model, prompt_tokens, completion_tokens)
        now: datetime = self.clock()
        with _locked(self.path):
            data = self._load()
            day = data["days"].setdefault(self._today(), {})
            day["prompt_tokens"] = int(day.get("prompt_tokens", 0)) + prompt_tokens
            day["completion_tokens"] = int(day.get("completion_tokens", 0)) + completion_tokens
            day["cost_usd"] = round(float(day.get("cost_usd", 0.0)) + (cost or 0.0), 6)
            day["calls"] = int(day.get("calls", 0)) + 1
            data["calls"].append({
                "at": to_iso(now), "stage": stage, "job_id": job_id, "provider": provider, "model": model,
                "prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                "cost_usd": cost, "ok": ok, "note": note,
            })
            self._save(data)

    def record_fallback(self, stage: str, reason: str, job_id: int | None = None) -> None:
        """A stage took its deterministic path (no LLM, budget spent, or the call failed)."""
        with _locked(self.path):
            data = self._load()
            day = data["days"].setdefault(self._today(), {})
            day["fallbacks"] = int(day.get("fallbacks", 0)) + 1
            data["last_fallback"] = {"at": to_iso(self.clock()), "stage": stage, "reason": reason, "job_id": job_id}
            self._save(data)

    def calls(self, limit: int = 50) -> list[dict[str, Any]]:
        return list(self._load()["calls"][-limit:])

    def by_job(self, job_id: int) -> list[dict[str, Any]]:
        return [c for c in self._load()["calls"] if c.get("job_id") == job_id]

    def last_fallback(self) -> dict[str, Any] | None:
        value = self._load().get("last_fallback")
        return value if isinstance(value, dict) else None
