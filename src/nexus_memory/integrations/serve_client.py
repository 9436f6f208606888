"""Ask a running `nexus serve` for hybrid recall over loopback; None means "do it in-process".

Only 127.0.0.1 is ever contacted. A refused connection costs well under a millisecond, so
the fallback is immediate when no server runs; a slow server is abandoned after `timeout`.
"""

from __future__ import annotations

import json
from typing import Any

SEARCH_PATH = "/api/v1/memories/search"


def search(port: int, token: str | None, query: str, limit: int, *, timeout: float = 1.0) -> list[dict[str, Any]] | None:
    import urllib.error
    import urllib.request

    body = json.dumps({"query": query, "limit": limit, "mode": "hybrid"}).encode("utf-8")
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    req = urllib.request.Request(f"http://127.0.0.1:{int(port)}{SEARCH_PATH}", data=body, headers=headers,
                                 method="POST")
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never through a proxy
    try:
        with opener.open(req, timeout=timeout) as resp:
            if resp.status != 200:
                return None
            data = json.loads(resp.read(4 * 1024 * 1024).decode("utf-8"))
    except (OSError, ValueError, urllib.error.URLError):
        return None
    return hits_of(data)


def hits_of(data: Any) -> list[dict[str, Any]] | None:
    """The list of hits in a search response, whichever envelope the server uses."""
    if isinstance(data, list):
        return [h for h in data if isinstance(h, dict)]
    if isinstance(data, dict):
        for key in ("results", "hits", "items", "memories", "data"):
            value = data.get(key)
            if isinstance(value, list):
                return [h for h in value if isinstance(h, dict)]
    return None
