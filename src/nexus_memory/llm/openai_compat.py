"""Any OpenAI-compatible chat endpoint: OpenAI, OpenRouter, Groq, Gemini's endpoint, Ollama, vLLM, LM Studio."""

from __future__ import annotations

import json
from typing import Any

from nexus_memory.llm.base import GenerateParams, GenerateResponse, LLMError, TokenUsage
from nexus_memory.llm.http import post, read_json, sse_events, stream_error


class OpenAICompatClient:
    def __init__(self, *, base_url: str, model: str, api_key: str | None, provider: str = "openai",
                 timeout: float = 60.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.provider = provider
        self._key = api_key
        self.timeout = timeout

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._key}"} if self._key else {}

    def generate(self, params: GenerateParams) -> GenerateResponse:
        body: dict[str, Any] = {
            "model": self.model,
            "messages": [{"role": m.role, "content": m.content} for m in params.messages],
            "max_tokens": params.max_tokens,
            "temperature": params.temperature,
        }
        if params.json_mode:
            body["response_format"] = {"type": "json_object"}
        if params.stream:
            body["stream"] = True
            body["stream_options"] = {"include_usage": True}
        resp = post(f"{self.base_url}/chat/completions", body, self._headers(), self.timeout, self.provider)
        if params.stream:
            return self._read_stream(resp)
        data = read_json(resp, self.provider)
        try:
            content = data["choices"][0]["message"]["content"] or ""
        except (KeyError, IndexError, TypeError):
            raise LLMError(f"{self.provider} answered without a message", hint="check the model name") from None
        usage = data.get("usage") or {}
        return GenerateResponse(
            content=content, model=str(data.get("model") or self.model), provider=self.provider,
            usage=TokenUsage(int(usage.get("prompt_tokens") or 0), int(usage.get("completion_tokens") or 0)),
        )

    def _read_stream(self, resp: Any) -> GenerateResponse:
        parts: list[str] = []
        usage = TokenUsage()
        model = self.model
        for _event, data in sse_events(resp, self.provider):
            if data == "[DONE]":
                break
            try:
                chunk = json.loads(data)
            except ValueError:
                continue
            if not isinstance(chunk, dict):
                continue
            if "error" in chunk:
                raise stream_error(chunk, self.provider)
            model = str(chunk.get("model") or model)
            for choice in chunk.get("choices") or []:
                delta = (choice or {}).get("delta") or {}
                if delta.get("content"):
                    parts.append(str(delta["content"]))
            if isinstance(chunk.get("usage"), dict):
                u = chunk["usage"]
                usage = TokenUsage(int(u.get("prompt_tokens") or 0), int(u.get("completion_tokens") or 0))
        return GenerateResponse("".join(parts), model, self.provider, usage)
