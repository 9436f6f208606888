"""Token budgets (reference 5.15): 10 % of an agent's context window goes to Nexus, 30 % soul / 70 % context."""

from __future__ import annotations

from dataclasses import dataclass

from nexus_memory.domain.agents import canonicalize_agent_type

_WINDOWS = {
    "claude-code": 200_000, "amp": 200_000, "codex": 200_000, "sonnet-specialist": 200_000,
    "opus-specialist": 200_000, "gemini": 1_000_000, "gemini-analyzer": 1_000_000,
}
DEFAULT_WINDOW = 128_000
SOUL_BUDGET_TOKENS = 2048


@dataclass(frozen=True, slots=True)
class TokenBudget:
    total: int
    soul: int
    context: int


def estimate_window(agent: str) -> int:
    return _WINDOWS.get(canonicalize_agent_type(agent), DEFAULT_WINDOW)


def for_model(window: int, allocation_pct: float = 0.10) -> TokenBudget:
    total = int(window * allocation_pct)
    soul = int(total * 0.30)
    return TokenBudget(total, soul, total - soul)
