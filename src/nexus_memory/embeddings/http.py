"""Any OpenAI-compatible `/embeddings` endpoint (vLLM, llama.cpp, LM Studio, OpenAI, ...).

POST `{base_url}/embeddings` with `{"model": ..., "input": [texts]}` and an
optional `Authorization: Bearer <key>`; the answer's `data[].embedding` are put
back in input order by `index`. Standard library only (urllib), so no extra
dependency. The key is read by the composition root and never logged.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Sequence
from typing import Any

from nexus_memory.errors import InvalidInput, NotAvailable

BATCH_SIZE = 64


class HttpEmbedder:
    def __init__(self, base_url: str, model: str, *, api_key: str | None = None, dimension: int | None = None,
                 timeout: float = 60.0, batch_size: int = BATCH_SIZE) -> None:
        if not base_url or not base_url.startswith(("http://", "https://")):
            raise InvalidInput(
                f"the embedding endpoint '{base_url}' is not an http(s) URL",
                hint="set NEXUS_EMBEDDING_BASE_URL, e.g. http://127.0.0.1:8000/v1",
            )
        if not model:
            raise InvalidInput("no embedding model name is set", hint="set NEXUS_EMBEDDING_MODEL")
        self.url = base_url.rstrip("/") + "/embeddings"
        self.model = model
        self._api_key = api_key
        self._dimension = dimension
        self.timeout = timeout
        self.batch_size = max(1, batch_size)

    @property
    def model_id(self) -> str:
        return self.model

    @property
    def dimension(self) -> int:
        return self._dimension or 0

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        out: list[list[float]] = []
        for start in range(0, len(texts), self.batch_size):
            out.extend(self._request(list(texts[start:start + self.batch_size])))
        return out

    def _request(self, texts: list[str]) -> list[list[float]]:
        body = json.dumps({"model": self.model, "input": texts}).encode("utf-8")
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if self._api_key:
            headers["Authorization"] = f"Bearer {self._api_key}"
        request = urllib.request.Request(self.url, data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                payload = json.loads(response.read().decode("utf-8"))
        except urllib.error.HTTPError as exc:
            detail = _error_detail(exc)
            raise NotAvailable(
                f"the embedding endpoint {self.url} answered HTTP {exc.code}{detail}",
                hint="check NEXUS_EMBEDDING_MODEL and the API key variable (NEXUS_EMBEDDING_API_KEY_ENV)"
                if exc.code in (400, 401, 403, 404) else "retry later, or set NEXUS_EMBEDDING_BACKEND=none",
            ) from None
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise NotAvailable(
                f"cannot reach the embedding endpoint {self.url} ({reason})",
                hint="start the server or fix NEXUS_EMBEDDING_BASE_URL; NEXUS_EMBEDDING_BACKEND=none disables vectors",
            ) from None
        except ValueError:
            raise NotAvailable(f"the embedding endpoint {self.url} did not answer JSON",
                               hint="check that the URL ends at the API root, e.g. .../v1") from None
        return self._vectors(payload, len(texts))

    def _vectors(self, payload: Any, expected: int) -> list[list[float]]:
        data = payload.get("data") if isinstance(payload, dict) else None
        if not isinstance(data, list) or len(data) != expected:
            raise NotAvailable(
                f"the embedding endpoint {self.url} returned {len(data) if isinstance(data, list) else 'no'} "
                f"vectors for {expected} texts",
                hint="the server must speak the OpenAI embeddings protocol",
            )
        ordered = sorted(data, key=lambda d: int(d.get("index", 0)) if isinstance(d, dict) else 0)
        vectors: list[list[float]] = []
        for item in ordered:
            vec = item.get("embedding") if isinstance(item, dict) else None
            if not isinstance(vec, list) or not vec:
                raise NotAvailable(f"the embedding endpoint {self.url} returned an item without an embedding",
                                   hint="base64 encoding is not supported; the server must return float lists")
            vectors.append([float(x) for x in vec])
        dims = {len(v) for v in vectors}
        if len(dims) != 1 or (self._dimension and self._dimension not in dims):
            raise NotAvailable(
                f"the embedding endpoint {self.url} returned vectors of size {sorted(dims)}"
                + (f", expected {self._dimension}" if self._dimension else ""),
                hint="set NEXUS_EMBEDDING_DIMENSION to the model's size",
            )
        self._dimension = dims.pop()
        return vectors


def _error_detail(exc: urllib.error.HTTPError) -> str:
    try:
        text = exc.read().decode("utf-8", "replace")[:200]
        payload = json.loads(text)
        message = payload.get("error", {}).get("message") if isinstance(payload.get("error"), dict) else None
        return f": {message}" if message else ""
    except (ValueError, AttributeError, OSError):
        return ""
