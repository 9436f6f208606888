"""The FastAPI application: REST under /api/v1, MCP (streamable HTTP) at /mcp, events at /ws,
the dashboard at /. Assembled here; each part lives in its own module."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from importlib import resources
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, WebSocket
from fastapi.middleware.cors import CORSMiddleware
from fastapi.staticfiles import StaticFiles

from nexus_memory.http.errors import install_error_handlers
from nexus_memory.http.routes_cognition import build_cognition_router
from nexus_memory.http.routes_memories import build_memories_router
from nexus_memory.http.routes_views import build_views_router
from nexus_memory.http.security import SecurityMiddleware, SecurityPolicy
from nexus_memory.http.stopping import StopGuard, reword_grace_errors
from nexus_memory.http.timing import ServerTiming
from nexus_memory.http.ws import EventHub

if TYPE_CHECKING:
    from nexus_memory.app import App

API_PREFIX = "/api/v1"
MCP_PATH = "/mcp"
#: Threads that run request handlers (AnyIO's default is 40). Every handler thread keeps its own
#: SQLite connection and competes for the GIL; at 50 clients on 2 cores, 2, 4 and 8 threads gave
#: the same latency (bench/serve_load.py), so the pool stays small.
REQUEST_THREADS = 4


class _HandshakeLogFilter(logging.Filter):
    """uvicorn's sans-io WebSocket logs an error after a refused handshake that it answered correctly
    (a 401/403 sent with the websocket.http.response extension); drop that one false alarm."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.getMessage() != "ASGI callable returned without completing handshake."


def quiet_refused_handshakes() -> None:
    log = logging.getLogger("uvicorn.error")
    if not any(isinstance(f, _HandshakeLogFilter) for f in log.filters):
        log.addFilter(_HandshakeLogFilter())


def static_dir() -> str:
    return str(resources.files("nexus_memory.http") / "static")


def create_http_app(app: App, policy: SecurityPolicy | None = None, *, with_mcp: bool = True) -> FastAPI:
    """Everything `nexus serve` listens with. `policy` defaults to loopback without a token."""
    from nexus_memory import __version__

    quiet_refused_handshakes()
    reword_grace_errors()
    policy = policy or SecurityPolicy(host=app.settings.host, port=app.settings.port, token=app.settings.api_token)
    hub = EventHub(app.events)
    mcp_server: Any = None
    if with_mcp:
        from mcp.server.transport_security import TransportSecuritySettings

        from nexus_memory.mcp.server import build_server

        mcp_server = build_server(app)
        # Host, Origin and token checks are done once, by SecurityMiddleware, for every surface.
        mcp_http = mcp_server.streamable_http_app(
            streamable_http_path=MCP_PATH,
            transport_security=TransportSecuritySettings(enable_dns_rebinding_protection=False),
        )

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        import anyio.to_thread

        anyio.to_thread.current_default_thread_limiter().total_tokens = REQUEST_THREADS
        hub.start()
        try:
            if mcp_server is not None:
                async with mcp_server.session_manager.run():
                    yield
            else:
                yield
        finally:
            hub.stop()

    api = FastAPI(
        title="Nexus Memory API",
        version=__version__,
        description="Local memory shared by every AI coding agent. Field names match the MCP tools.",
        openapi_url=f"{API_PREFIX}/openapi.json",
        docs_url=None,  # the Swagger page loads scripts from a CDN; we work offline
        redoc_url=None,
        lifespan=lifespan,
    )
    api.state.nexus = app
    api.state.hub = hub
    api.state.policy = policy
    install_error_handlers(api)
    api.include_router(build_views_router(app), prefix=API_PREFIX)
    api.include_router(build_memories_router(app), prefix=API_PREFIX)
    api.include_router(build_cognition_router(app), prefix=API_PREFIX)

    @api.websocket("/ws")
    async def events(ws: WebSocket) -> None:
        await hub.serve(ws)

    if mcp_server is not None:
        for route in mcp_http.routes:
            api.router.routes.append(route)
    api.mount("/", StaticFiles(directory=static_dir(), html=True), name="dashboard")
    # Order matters: CORS (outermost) answers preflights, then the security checks run.
    api.add_middleware(SecurityMiddleware, policy=policy)
    api.add_middleware(
        CORSMiddleware,
        allow_origins=sorted(policy.allowed_origins),
        allow_methods=["GET", "POST", "PUT", "DELETE"],
        allow_headers=["authorization", "content-type", "accept", "mcp-session-id", "mcp-protocol-version",
                       "last-event-id"],
        expose_headers=["mcp-session-id"],
        allow_credentials=False,
    )
    api.add_middleware(ServerTiming)  # times everything, refusals included
    api.add_middleware(StopGuard)  # outermost: a request cut off by a stop gets a 503, not a traceback
    return api
