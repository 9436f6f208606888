"""The Anthropic Messages protocol (Anthropic, and Z.ai's Anthropic-compatible endpoint)."""

from __future__ import annotations

import json
from typing import Any

from nexus_memory.llm.base import GenerateParams, GenerateResponse, LLMError, TokenUsage
from nexus_memory.llm.http import post, read_json, sse_events, stream_error

ANTHROPIC_VERSION = "2023-06-01"


class AnthropicClient:
    def __init__(self, *, base_url: str, model: str, api_key: str | None, provider: str = "anthropic",
                 timeout: float = 60.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.provider = provider
        self._key = api_key
        self.timeout = timeout

    def _headers(self) -> dict[str, str]:
        headers = {"anthropic-version": ANTHROPIC_VERSION}
        if self._key:
            headers["x-api-key"] = self._key
        return headers

    def generate(self, params: GenerateParams) -> GenerateResponse:
        system = "\n\n".join(m.content for m in params.messages if m.role == "system")
        if params.json_mode:
            system = (system + "\n\nAnswer with one JSON object only, no prose, no code fences.").strip()
        body: dict[str, Any] = {
            "model": self.model,
            "max_tokens": params.max_tokens,
            "temperature": params.temperature,
            "messages": [{"role": m.role, "content": m.content} for m in params.messages if m.role != "system"],
        }
        if system:
            body["system"] = system
        if params.stream:
            body["stream"] = True
        url = f"{self.base_url}/v1/messages"
        resp = post(url, body, self._headers(), self.timeout, self.provider)
        if params.stream:
            return self._read_stream(resp)
        data = read_json(resp, self.provider)
        if data.get("type") == "error":
            raise stream_error(data, self.provider)
        blocks = data.get("content") or []
        text = "".join(str(b.get("text") or "") for b in blocks if isinstance(b, dict) and b.get("type") == "text")
        if not blocks:
            raise LLMError(f"{self.provider} answered without content", hint="check the model name")
        usage = data.get("usage") or {}
        return GenerateResponse(
            content=text, model=str(data.get("model") or self.model), provider=self.provider,
            usage=TokenUsage(int(usage.get("input_tokens") or 0), int(usage.get("output_tokens") or 0)),
        )

    def _read_stream(self, resp: Any) -> GenerateResponse:
        parts: list[str] = []
        prompt = completion = 0
        model = self.model
        for event, data in sse_events(resp, self.provider):
            try:
                payload = json.loads(data)
            except ValueError:
                continue
            if not isinstance(payload, dict):
                continue
            kind = payload.get("type") or event
            if kind == "error":
                raise stream_error(payload, self.provider)
            if kind == "message_start":
                msg = payload.get("message") or {}
                model = str(msg.get("model") or model)
                prompt = int((msg.get("usage") or {}).get("input_tokens") or 0)
            elif kind == "content_block_delta":
                delta = payload.get("delta") or {}
                if delta.get("text"):
                    parts.append(str(delta["text"]))
            elif kind == "message_delta":
                completion = int((payload.get("usage") or {}).get("output_tokens") or completion)
            elif kind == "message_stop":
                break
        return GenerateResponse("".join(parts), model, self.provider, TokenUsage(prompt, completion))
