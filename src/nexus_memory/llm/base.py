"""The LLM port: one `generate` call, typed errors, and token usage for the ledger.

Every cognition stage has a deterministic path, so an LLM is never required;
these errors tell the fallback chain when to try the next provider.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from nexus_memory.errors import NexusError


class LLMError(NexusError):
    """A provider call failed; the stage falls back to its deterministic path."""


class RateLimited(LLMError):
    """HTTP 429 or a rate-limit error event: the fallback chain moves on."""


class QuotaExceeded(LLMError):
    """The account is out of quota or credit (402, insufficient_quota): the chain moves on."""


class ProviderUnavailable(LLMError):
    """Connection refused, timeout or a 5xx/overloaded answer: the chain moves on."""


class BudgetExhausted(LLMError):
    """Our own daily token budget is spent: no provider is called today."""


@dataclass(frozen=True, slots=True)
class ChatMessage:
    role: str  # system | user | assistant
    content: str


@dataclass(frozen=True, slots=True)
class TokenUsage:
    prompt_tokens: int = 0
    completion_tokens: int = 0

    @property
    def total(self) -> int:
        return self.prompt_tokens + self.completion_tokens


@dataclass(frozen=True, slots=True)
class GenerateParams:
    messages: tuple[ChatMessage, ...]
    max_tokens: int = 1024
    temperature: float = 0.3
    json_mode: bool = True
    stream: bool = False


@dataclass(frozen=True, slots=True)
class GenerateResponse:
    content: str
    model: str
    provider: str
    usage: TokenUsage = field(default_factory=TokenUsage)


@runtime_checkable
class LLMClient(Protocol):
    provider: str
    model: str

    def generate(self, params: GenerateParams) -> GenerateResponse: ...


def system_user(system: str, user: str, **kwargs: object) -> GenerateParams:
    return GenerateParams(messages=(ChatMessage("system", system), ChatMessage("user", user)), **kwargs)  # type: ignore[arg-type]
