"""Ask a running `nexus serve` for hybrid recall over loopback; None means "do it in-process".

Only 127.0.0.1 is ever contacted, with a bare HTTP/1.1 request on a socket: `urllib` would
cost the hook ~70 ms of imports (the email package) before a single byte is sent. A refused
connection costs well under a millisecond, so the fallback is immediate when no server runs;
a slow server is abandoned after `timeout`.
"""

from __future__ import annotations

import json
import socket
from typing import Any

from nexus_memory.domain.protocol import STORE_HEADER

SEARCH_PATH = "/api/v1/memories/search"

MAX_RESPONSE = 4 * 1024 * 1024


def search(port: int, token: str | None, query: str, limit: int, *, timeout: float = 1.0,
           levels: tuple[str, ...] = ("explicit", "derived", "raw"),
           project_root: str | tuple[str, ...] | None = None, store: str | None = None) -> list[dict[str, Any]] | None:
    """Hybrid hits for per-prompt recall: statements and episodes (`levels`) of the project (and of no
    project), with every score. With `store` (Settings.store_id), only a server working on that store
    answers: another one refuses (409), and a reply without the same `X-Nexus-Store` is not taken."""
    fields: dict[str, Any] = {"query": query, "limit": limit, "mode": "hybrid", "explain": True,
                               "include_raw": True, "cognitive_levels": list(levels)}
    keys = (project_root,) if isinstance(project_root, str) else tuple(project_root or ())
    if keys:
        fields["project_root"] = keys[0]
    if len(keys) > 1:
        fields["project_keys"] = list(keys[1:32])
    body = json.dumps(fields).encode("utf-8")
    head = [f"POST {SEARCH_PATH} HTTP/1.1", f"Host: 127.0.0.1:{int(port)}", "Content-Type: application/json",
            "Accept: application/json", f"Content-Length: {len(body)}", "Connection: close"]
    if token:
        head.append(f"Authorization: Bearer {token}")
    if store:
        head.append(f"{STORE_HEADER}: {store}")
    request = ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body
    try:
        # a socket of our own, not create_connection: its getaddrinfo loads the idna codec (~1 ms)
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.settimeout(timeout)
            sock.connect(("127.0.0.1", int(port)))
            sock.sendall(request)
            chunks: list[bytes] = []
            size = 0
            while size <= MAX_RESPONSE:
                data = sock.recv(65536)
                if not data:
                    break
                chunks.append(data)
                size += len(data)
    except (OSError, ValueError):
        return None
    return parse_response(b"".join(chunks), store=store)


def parse_response(raw: bytes, *, store: str | None = None) -> list[dict[str, Any]] | None:
    header, sep, body = raw.partition(b"\r\n\r\n")
    if not sep:
        return None
    lines = header.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2 or parts[1] != "200":
        return None
    headers = {k.strip().lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines[1:])}
    if store and headers.get(STORE_HEADER.lower()) != store:
        return None  # a server of another store (or one too old to say): its ids are not ours
    if "chunked" in headers.get("transfer-encoding", "").lower():
        body = _dechunk(body)
    try:
        return hits_of(json.loads(body.decode("utf-8")))
    except (ValueError, UnicodeDecodeError):
        return None


def _dechunk(body: bytes) -> bytes:
    out = bytearray()
    while body:
        size_line, _, rest = body.partition(b"\r\n")
        try:
            size = int(size_line.split(b";")[0].strip() or b"0", 16)
        except ValueError:
            break
        if size == 0:
            break
        out += rest[:size]
        body = rest[size + 2 :]
    return bytes(out)


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
