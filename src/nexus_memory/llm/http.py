"""A small stdlib HTTP helper shared by the provider adapters (no third-party client on this path)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

from nexus_memory.llm.base import LLMError, ProviderUnavailable, QuotaExceeded, RateLimited

_QUOTA_MARKERS = ("insufficient_quota", "quota", "credit", "billing")
_RATE_MARKERS = ("rate_limit", "rate limit", "ratelimit", "too many requests")


def classify_error(status: int, body: str, provider: str) -> LLMError:
    """Map an HTTP status and error body to the error class the fallback chain understands."""
    text = body[:500]
    low = text.lower()
    msg = f"{provider} answered HTTP {status}: {text.strip() or 'no body'}"
    if status == 429:
        if any(m in low for m in _QUOTA_MARKERS) and "rate" not in low:
            return QuotaExceeded(msg, hint="add credit or configure a fallback provider")
        return RateLimited(msg, hint="wait, or configure NEXUS_LLM_FALLBACK_1_PROVIDER")
    if status == 402 or any(m in low for m in _QUOTA_MARKERS):
        return QuotaExceeded(msg, hint="add credit or configure a fallback provider")
    if status in (408, 409, 500, 502, 503, 504, 529) or "overloaded" in low:
        return ProviderUnavailable(msg, hint="the provider is struggling; the next fallback is tried")
    if status in (401, 403):
        return LLMError(msg, hint="check the API key variable named by NEXUS_LLM_API_KEY_ENV")
    return LLMError(msg, hint="check the model name and base URL")


def stream_error(payload: dict[str, Any], provider: str) -> LLMError:
    """An error delivered inside a stream (OpenAI `{"error": ...}`, Anthropic `event: error`)."""
    inner = payload.get("error")
    err: dict[str, Any] = inner if isinstance(inner, dict) else payload
    kind = str(err.get("type") or err.get("code") or "")
    message = str(err.get("message") or kind or "stream error")
    low = (kind + " " + message).lower()
    text = f"{provider} stream error: {kind or 'error'}: {message}"
    if any(m in low for m in _RATE_MARKERS):
        return RateLimited(text, hint="wait, or configure a fallback provider")
    if any(m in low for m in _QUOTA_MARKERS):
        return QuotaExceeded(text, hint="add credit or configure a fallback provider")
    if "overloaded" in low or "server" in low or "timeout" in low:
        return ProviderUnavailable(text, hint="the next fallback is tried")
    return LLMError(text, hint="the stage falls back to its deterministic path")


def post(url: str, body: dict[str, Any], headers: dict[str, str], timeout: float, provider: str) -> Any:
    """POST JSON and return the open response; errors mapped to LLMError subclasses."""
    data = json.dumps(body).encode("utf-8")
    req = urllib.request.Request(url, data=data, method="POST",
                                 headers={"Content-Type": "application/json", **headers})
    try:
        return urllib.request.urlopen(req, timeout=timeout)
    except urllib.error.HTTPError as exc:
        try:
            payload = exc.read().decode("utf-8", "replace")
        except OSError:
            payload = ""
        raise classify_error(exc.code, payload, provider) from None
    except (urllib.error.URLError, TimeoutError, ConnectionError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise ProviderUnavailable(
            f"cannot reach {provider} at {url}: {reason}", hint="check NEXUS_LLM_BASE_URL and the network"
        ) from None


def read_json(resp: Any, provider: str) -> dict[str, Any]:
    try:
        with resp:
            raw = resp.read().decode("utf-8", "replace")
    except (TimeoutError, OSError) as exc:
        raise ProviderUnavailable(f"{provider} stopped answering: {exc}", hint="the next fallback is tried") from None
    try:
        value = json.loads(raw)
    except ValueError:
        raise LLMError(f"{provider} sent a response that is not JSON: {raw[:200]}", hint="check the base URL") from None
    if not isinstance(value, dict):
        raise LLMError(f"{provider} sent an unexpected response", hint="check the base URL")
    if isinstance(value.get("error"), dict):
        raise stream_error(value, provider)
    return value


def sse_events(resp: Any, provider: str) -> Iterator[tuple[str | None, str]]:
    """(event name, data) pairs of a server-sent-events stream."""
    event: str | None = None
    data_lines: list[str] = []
    try:
        with resp:
            for raw in resp:
                line = raw.decode("utf-8", "replace").rstrip("\r\n")
                if not line:
                    if data_lines:
                        yield event, "\n".join(data_lines)
                    event, data_lines = None, []
                    continue
                if line.startswith(":"):
                    continue
                if line.startswith("event:"):
                    event = line[6:].strip()
                elif line.startswith("data:"):
                    data_lines.append(line[5:].strip())
            if data_lines:
                yield event, "\n".join(data_lines)
    except (TimeoutError, OSError) as exc:
        raise ProviderUnavailable(f"{provider} stream broke: {exc}", hint="the next fallback is tried") from None
