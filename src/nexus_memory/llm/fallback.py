"""A chain of providers: on rate limits, quota errors and outages the next one is tried."""

from __future__ import annotations

from collections.abc import Sequence

from nexus_memory.llm.base import (
    GenerateParams,
    GenerateResponse,
    LLMClient,
    LLMError,
    ProviderUnavailable,
    QuotaExceeded,
    RateLimited,
)

_SWITCH_ON = (RateLimited, QuotaExceeded, ProviderUnavailable)


class FallbackClient:
    """Tries each client in order; other errors (bad request, bad key) stop the chain at once."""

    def __init__(self, clients: Sequence[LLMClient]) -> None:
        if not clients:
            raise ValueError("a fallback chain needs at least one client")
        self.clients = list(clients)
        self.provider = self.clients[0].provider
        self.model = self.clients[0].model
        self.last_errors: list[str] = []

    def generate(self, params: GenerateParams) -> GenerateResponse:
        self.last_errors = []
        last: LLMError | None = None
        for client in self.clients:
            try:
                return client.generate(params)
            except _SWITCH_ON as exc:
                self.last_errors.append(f"{client.provider}/{client.model}: {exc.message}")
                last = exc
        assert last is not None
        raise type(last)(
            f"every provider in the chain failed: {'; '.join(self.last_errors)}",
            hint="the stage falls back to its deterministic path",
        )
