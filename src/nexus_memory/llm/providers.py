"""Provider table (upstream reference 10): base URL, key variable, default model and protocol."""

from __future__ import annotations

from dataclasses import dataclass

from nexus_memory.errors import ConfigError


@dataclass(frozen=True, slots=True)
class ProviderSpec:
    name: str
    base_url: str
    key_env: str | None
    default_model: str
    protocol: str  # openai | anthropic


PROVIDERS = {
    "openai": ProviderSpec("openai", "https://api.openai.com/v1", "OPENAI_API_KEY", "gpt-4o-mini", "openai"),
    "anthropic": ProviderSpec("anthropic", "https://api.anthropic.com", "ANTHROPIC_API_KEY",
                              "claude-sonnet-4-20250514", "anthropic"),
    "gemini": ProviderSpec("gemini", "https://generativelanguage.googleapis.com/v1beta/openai", "GEMINI_API_KEY",
                           "gemini-3-flash-preview", "openai"),
    "openrouter": ProviderSpec("openrouter", "https://openrouter.ai/api/v1", "OPENROUTER_API_KEY",
                               "openai/gpt-4o-mini", "openai"),
    "groq": ProviderSpec("groq", "https://api.groq.com/openai/v1", "GROQ_API_KEY", "llama-3.3-70b-versatile",
                         "openai"),
    "zai": ProviderSpec("zai", "https://api.z.ai/api/anthropic", "ZAI_API_KEY", "glm-4.7", "anthropic"),
    "minimax": ProviderSpec("minimax", "https://api.minimax.io/v1", "MINIMAX_API_KEY", "MiniMax-M1-80k", "openai"),
    "mistral": ProviderSpec("mistral", "https://api.mistral.ai/v1", "MISTRAL_API_KEY", "mistral-small-latest",
                            "openai"),
    # Local OpenAI-compatible servers: no key needed.
    "ollama": ProviderSpec("ollama", "http://127.0.0.1:11434/v1", None, "llama3.2", "openai"),
    "vllm": ProviderSpec("vllm", "http://127.0.0.1:8000/v1", None, "default", "openai"),
    "lmstudio": ProviderSpec("lmstudio", "http://127.0.0.1:1234/v1", None, "local-model", "openai"),
    "openai-compatible": ProviderSpec("openai-compatible", "", None, "default", "openai"),
}

ALIASES = {
    "open_ai": "openai", "google": "gemini", "open_router": "openrouter", "z.ai": "zai", "zhipu": "zai",
    "bigmodel": "zai", "claude": "anthropic", "custom": "openai-compatible", "openai_compatible": "openai-compatible",
    "lm-studio": "lmstudio",
}


def resolve_provider(name: str) -> ProviderSpec:
    key = name.strip().lower()
    key = ALIASES.get(key, key)
    spec = PROVIDERS.get(key)
    if spec is None:
        raise ConfigError(
            f"unknown LLM provider '{name}'",
            hint=f"use one of: {', '.join(sorted(PROVIDERS))}, or none",
        )
    return spec
