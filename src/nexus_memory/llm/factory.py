"""Build the configured client and its fallback chain from settings values (env is passed in, not read)."""

from __future__ import annotations

from collections.abc import Mapping

from nexus_memory.errors import ConfigError
from nexus_memory.llm.anthropic import AnthropicClient
from nexus_memory.llm.base import LLMClient
from nexus_memory.llm.fallback import FallbackClient
from nexus_memory.llm.openai_compat import OpenAICompatClient
from nexus_memory.llm.providers import resolve_provider

MAX_FALLBACKS = 5


def make_client(provider: str, *, model: str | None, base_url: str | None, api_key_env: str | None,
                env: Mapping[str, str], timeout: float = 60.0) -> LLMClient:
    spec = resolve_provider(provider)
    url = base_url or spec.base_url
    if not url:
        raise ConfigError(f"the {spec.name} provider needs a base URL", hint="set NEXUS_LLM_BASE_URL")
    key_env = api_key_env or spec.key_env
    key = env.get(key_env) if key_env else None
    if key_env and not key and spec.key_env and not base_url:
        raise ConfigError(f"{key_env} is not set", hint=f"export {key_env}=... or choose another provider")
    cls = AnthropicClient if spec.protocol == "anthropic" else OpenAICompatClient
    return cls(base_url=url, model=model or spec.default_model, api_key=key, provider=spec.name, timeout=timeout)


def make_chain(primary: str, *, model: str | None, base_url: str | None, api_key_env: str | None,
               env: Mapping[str, str], timeout: float = 60.0) -> LLMClient | None:
    """The primary client plus NEXUS_LLM_FALLBACK_{1..5}_{PROVIDER,MODEL,API_KEY_ENV,BASE_URL}; None for `none`."""
    if not primary or primary.strip().lower() in ("none", "off", "disabled"):
        return None
    clients = [make_client(primary, model=model, base_url=base_url, api_key_env=api_key_env, env=env,
                           timeout=timeout)]
    for i in range(1, MAX_FALLBACKS + 1):
        name = env.get(f"NEXUS_LLM_FALLBACK_{i}_PROVIDER")
        if not name:
            continue
        clients.append(make_client(
            name, model=env.get(f"NEXUS_LLM_FALLBACK_{i}_MODEL"),
            base_url=env.get(f"NEXUS_LLM_FALLBACK_{i}_BASE_URL"),
            api_key_env=env.get(f"NEXUS_LLM_FALLBACK_{i}_API_KEY_ENV"), env=env, timeout=timeout,
        ))
    return clients[0] if len(clients) == 1 else FallbackClient(clients)
