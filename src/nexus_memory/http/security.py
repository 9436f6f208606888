"""Who may talk to the server: bind address, token, Host and Origin checks.

- Loopback by default. Listening beyond loopback needs a token (from NEXUS_API_TOKEN,
  or generated and printed once by `nexus serve`).
- With a token, every `/api`, `/mcp` and `/ws` request must carry it: `Authorization:
  Bearer <token>`, or for browser WebSockets the subprotocol pair `nexus-token, <token>`.
- A browser's Origin must be one of the exact allowed origins (the server's own
  addresses plus NEXUS_CORS_ORIGINS); on loopback the Host header must be a loopback
  name too, which defeats DNS rebinding.

Written as plain ASGI middleware so it guards HTTP and WebSocket alike.
"""

from __future__ import annotations

import ipaddress
import json
import secrets
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

PROTECTED_PREFIXES = ("/api", "/mcp", "/ws")
#: Largest request body accepted (a memory holds at most 200,000 characters).
MAX_BODY_BYTES = 4 * 1024 * 1024
TOKEN_SUBPROTOCOL = "nexus-token"
LOOPBACK_NAMES = frozenset({"127.0.0.1", "localhost", "::1", "[::1]"})


def is_loopback(host: str) -> bool:
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def generate_token() -> str:
    return secrets.token_urlsafe(24)


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


@dataclass(frozen=True)
class SecurityPolicy:
    host: str = "127.0.0.1"
    port: int = 8768
    token: str | None = None
    extra_origins: tuple[str, ...] = ()
    allowed_origins: frozenset[str] = field(init=False)

    def __post_init__(self) -> None:
        names = {"127.0.0.1", "localhost", "[::1]"} | {_url_host(self.host)}
        origins = {f"{scheme}://{name}:{self.port}" for name in names for scheme in ("http", "https")}
        origins |= {o.strip().rstrip("/") for o in self.extra_origins if o.strip()}
        object.__setattr__(self, "allowed_origins", frozenset(origins))

    @classmethod
    def from_settings(cls, host: str, port: int, token: str | None, cors_origins: str | None) -> SecurityPolicy:
        extra = tuple(o for o in (cors_origins or "").split(",") if o.strip())
        return cls(host=host, port=port, token=token or None, extra_origins=extra)

    @property
    def loopback(self) -> bool:
        return is_loopback(self.host)

    def host_allowed(self, host_header: str | None) -> bool:
        """On loopback only loopback names may be in Host (DNS rebinding); elsewhere the token guards."""
        if not self.loopback:
            return True
        if not host_header:
            return False
        name = host_header.rsplit(":", 1)[0] if not host_header.endswith("]") else host_header
        return name in LOOPBACK_NAMES

    def origin_allowed(self, origin: str | None) -> bool:
        return origin is None or origin.rstrip("/") in self.allowed_origins

    def token_ok(self, headers: dict[str, str]) -> bool:
        if self.token is None:
            return True
        auth = headers.get("authorization", "")
        if auth.lower().startswith("bearer ") and _same(auth[7:].strip(), self.token):
            return True
        protocols = [p.strip() for p in headers.get("sec-websocket-protocol", "").split(",")]
        if len(protocols) >= 2 and protocols[0] == TOKEN_SUBPROTOCOL:
            return _same(protocols[1], self.token)
        return False


def _same(given: str, token: str) -> bool:
    """Constant-time comparison of bytes: `compare_digest` refuses non-ASCII text (a 500 before), and
    headers arrive as latin-1, so any header value has a byte form."""
    return secrets.compare_digest(given.encode("utf-8", "surrogateescape"), token.encode("utf-8", "surrogateescape"))


class SecurityMiddleware:
    def __init__(self, app: ASGIApp, policy: SecurityPolicy) -> None:
        self.app = app
        self.policy = policy

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        path = str(scope.get("path", ""))
        policy = self.policy
        if not policy.host_allowed(headers.get("host")):
            await _refuse(scope, receive, send, 403, "forbidden_host",
                          f"the Host header '{headers.get('host', '')}' is not a loopback name",
                          "open the dashboard at http://127.0.0.1:PORT/ (this blocks DNS-rebinding attacks)")
            return
        protected = any(path == p or path.startswith(p + "/") for p in PROTECTED_PREFIXES)
        if not protected:
            await self.app(scope, receive, send)
            return
        is_preflight = scope["type"] == "http" and scope.get("method") == "OPTIONS" \
            and "access-control-request-method" in headers
        if not policy.origin_allowed(headers.get("origin")):
            await _refuse(scope, receive, send, 403, "forbidden_origin",
                          f"the browser origin '{headers.get('origin')}' is not allowed",
                          "add it to NEXUS_CORS_ORIGINS (exact scheme://host:port) and restart `nexus serve`")
            return
        if not is_preflight and not policy.token_ok(headers):
            await _refuse(scope, receive, send, 401, "unauthorized",
                          "this server needs an API token",
                          "send 'Authorization: Bearer <token>' with the token from NEXUS_API_TOKEN "
                          "or the one `nexus serve` printed")
            return
        length = headers.get("content-length", "")
        if length.isdigit() and int(length) > MAX_BODY_BYTES:
            await _refuse(scope, receive, send, 413, "too_large",
                          f"the request body is {int(length)} bytes", f"send at most {MAX_BODY_BYTES} bytes")
            return
        if scope["type"] == "http" and not length.isdigit() and "chunked" in headers.get("transfer-encoding", ""):
            # No length announced: read the body here, up to the cap, then hand it on whole.
            body = await _read_capped(receive)
            if body is None:
                await _refuse(scope, receive, send, 413, "too_large", "the request body is too large",
                              f"send at most {MAX_BODY_BYTES} bytes")
                return
            receive = _replay(body, receive)
        await self.app(scope, receive, send)


async def _read_capped(receive: Receive) -> bytes | None:
    """The whole body of a chunked request, or None once it passes MAX_BODY_BYTES (the rest is not read)."""
    parts: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return b"".join(parts)  # the client went away; the app sees an empty or partial body
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            return None
        parts.append(chunk)
        if not message.get("more_body", False):
            return b"".join(parts)


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()  # later messages (http.disconnect) come from the server
    return replay


async def _refuse(scope: Scope, receive: Receive, send: Send, status: int, code: str, message: str,
                  hint: str) -> None:
    if scope["type"] == "websocket":
        await receive()  # websocket.connect
        if "websocket.http.response" not in (scope.get("extensions") or {}):
            await send({"type": "websocket.close", "code": 4401 if status == 401 else 4403, "reason": code})
            return
        await send({"type": "websocket.http.response.start", "status": status,
                    "headers": [(b"content-type", b"application/json")]})
        body = json.dumps({"error": code, "message": message, "hint": hint}).encode()
        await send({"type": "websocket.http.response.body", "body": body})
        return
    body = json.dumps({"error": code, "message": message, "hint": hint}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    if status == 401:
        headers.append((b"www-authenticate", b'Bearer realm="nexus"'))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
