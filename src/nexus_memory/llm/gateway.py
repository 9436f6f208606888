"""What cognition stages call: a budgeted, fail-soft JSON completion.

Returns None whenever the stage should take its deterministic path: no LLM is
configured, the daily token budget is spent, the call failed, or the answer is
not usable JSON. Every such case is counted in the ledger.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from nexus_memory.domain.ranking import estimate_tokens
from nexus_memory.llm.base import GenerateParams, LLMClient, LLMError, system_user
from nexus_memory.llm.jsonparse import JSONParseError, parse_json_object
from nexus_memory.llm.ledger import TokenLedger


@dataclass(frozen=True, slots=True)
class LLMStatus:
    configured: bool
    provider: str | None
    model: str | None
    daily_budget: int
    spent_today: int
    remaining: int
    exhausted: bool
    cost_today_usd: float
    calls_today: int
    fallbacks_today: int

    config_error: str | None = None

    def summary(self) -> str:
        if self.config_error:
            return f"LLM: misconfigured ({self.config_error}); every stage uses its deterministic path"
        if not self.configured:
            return "LLM: none configured; every stage uses its deterministic path"
        line = (f"LLM: {self.provider}/{self.model}; today {self.spent_today}/{self.daily_budget} tokens, "
                f"{self.calls_today} calls, ${self.cost_today_usd:.4f}")
        if self.exhausted:
            line += "; daily token budget spent: stages use their deterministic path until tomorrow (UTC)"
        return line

    def to_dict(self) -> dict[str, Any]:
        return {
            "configured": self.configured, "provider": self.provider, "model": self.model,
            "daily_budget": self.daily_budget, "spent_today": self.spent_today, "remaining": self.remaining,
            "exhausted": self.exhausted, "cost_today_usd": self.cost_today_usd, "calls_today": self.calls_today,
            "fallbacks_today": self.fallbacks_today, "config_error": self.config_error,
        }


class LLMGateway:
    def __init__(self, client: LLMClient | None, ledger: TokenLedger, *, config_error: str | None = None) -> None:
        self.client = client
        self.ledger = ledger
        self.config_error = config_error
        self.last_error: str | None = config_error

    @property
    def configured(self) -> bool:
        return self.client is not None

    def usable(self, estimate: int = 1) -> bool:
        return self.client is not None and self.ledger.can_spend(estimate)

    def status(self) -> LLMStatus:
        t = self.ledger.totals()
        return LLMStatus(
            configured=self.client is not None,
            provider=self.client.provider if self.client else None,
            model=self.client.model if self.client else None,
            daily_budget=self.ledger.daily_budget, spent_today=t.tokens, remaining=self.ledger.remaining(),
            exhausted=self.client is not None and self.ledger.exhausted(), cost_today_usd=t.cost_usd,
            calls_today=t.calls, fallbacks_today=t.fallbacks, config_error=self.config_error,
        )

    def complete_json(self, stage: str, system: str, user: str, *, max_tokens: int = 1024,
                      temperature: float = 0.3, job_id: int | None = None) -> dict[str, Any] | None:
        if self.client is None:
            return None
        estimate = estimate_tokens(system) + estimate_tokens(user) + max_tokens
        if not self.ledger.can_spend(estimate):
            self.ledger.record_fallback(stage, "daily token budget spent", job_id)
            return None
        params: GenerateParams = system_user(system, user, max_tokens=max_tokens, temperature=temperature,
                                             json_mode=True)
        try:
            resp = self.client.generate(params)
        except LLMError as exc:
            self.last_error = exc.message
            self.ledger.record_fallback(stage, f"call failed: {exc.message[:200]}", job_id)
            return None
        usage = resp.usage
        prompt = usage.prompt_tokens or (estimate_tokens(system) + estimate_tokens(user))
        completion = usage.completion_tokens or estimate_tokens(resp.content)
        try:
            value = parse_json_object(resp.content)
        except JSONParseError as exc:
            self.ledger.record(stage=stage, job_id=job_id, provider=resp.provider, model=resp.model,
                               prompt_tokens=prompt, completion_tokens=completion, ok=False, note=str(exc))
            self.ledger.record_fallback(stage, "unusable JSON", job_id)
            return None
        self.ledger.record(stage=stage, job_id=job_id, provider=resp.provider, model=resp.model,
                           prompt_tokens=prompt, completion_tokens=completion)
        return value
