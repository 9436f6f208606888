"""serve and mcp: the long-running surfaces. fastapi, uvicorn and mcp are imported only here, lazily."""

from __future__ import annotations

import argparse
import sys
from typing import Any

COMMANDS = ("serve", "mcp")


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "serve", parents=[common], help="run the dashboard, HTTP API and MCP server",
        description="Serve the web dashboard at /, the REST API at /api/v1, live events at /ws and MCP "
                    "(streamable HTTP) at /mcp. Loopback only unless --host says otherwise; beyond loopback "
                    "a token is required (NEXUS_API_TOKEN, or one generated and printed once).",
    )
    p.add_argument("--host", help="address to listen on (default: NEXUS_HOST or 127.0.0.1)")
    p.add_argument("--port", type=int, help="port (default: NEXUS_PORT or 8768)")
    p.add_argument("--transport", choices=("http", "stdio"), default="http",
                   help="http (default): everything above; stdio: only MCP on stdin/stdout")
    p.set_defaults(handler=cmd_serve)

    p = sub.add_parser("mcp", parents=[common], help="run the MCP server on stdin/stdout (for agent configs)",
                       description="Speak MCP over stdin/stdout. Point an agent's MCP config at `nexus mcp`.")
    p.set_defaults(handler=cmd_mcp)


def _app(args: argparse.Namespace, **overrides: Any) -> Any:
    from nexus_memory.app import build_app
    from nexus_memory.config import load_settings

    settings = load_settings(database_path=getattr(args, "db", None),
                             database_url=getattr(args, "database_url", None), **overrides)
    return build_app(settings)


def _require(module: str) -> None:
    import importlib.util

    from nexus_memory.errors import NotAvailable

    if importlib.util.find_spec(module) is None:
        extra = "mcp" if module == "mcp" else "server"
        raise NotAvailable(f"the {module} package is not installed",
                           hint=f"pip install 'nexus-memory[{extra}]' (or '.[all]')")


def cmd_mcp(args: argparse.Namespace) -> int:
    _require("mcp")
    from nexus_memory.mcp.server import run_stdio

    app = _app(args)
    try:
        run_stdio(app)
    finally:
        app.close()
    return 0


def _check_port(host: str, port: int) -> None:
    import socket  # here, not at module level: every `nexus` command imports this module

    from nexus_memory.errors import ConfigError

    if not 0 <= port <= 65535:
        raise ConfigError(f"port {port} is out of range", hint="use 1 to 65535, for example --port 8768")
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError as exc:
            raise ConfigError(f"cannot listen on {host}:{port} ({exc.strerror})",
                              hint="another `nexus serve` may be running; pick another --port") from None


#: The server answers each request on its own thread. A multi-threaded BLAS under every one of them
#: (numpy's matrix product in vector search) fights the other requests and the embedder for the
#: cores: on 2 cores, 16 threads mixing store and search went from 84 to 201 ops/s and p95 from 581
#: to 151 ms with one BLAS thread each. Set before numpy loads; an explicit value is kept.
SINGLE_THREAD_BLAS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def single_thread_blas() -> None:
    import os

    for var in SINGLE_THREAD_BLAS:
        os.environ.setdefault(var, "1")


def cmd_serve(args: argparse.Namespace) -> int:
    if args.transport == "stdio":
        return cmd_mcp(args)
    single_thread_blas()
    _require("fastapi")
    _require("uvicorn")
    _require("mcp")
    import uvicorn

    from nexus_memory.cli.output import emit_json
    from nexus_memory.http.app import create_http_app
    from nexus_memory.http.security import SecurityPolicy, generate_token, is_loopback

    app = _app(args, host=args.host, port=args.port)
    settings = app.settings
    host, port = settings.host, settings.port
    token = settings.api_token
    generated = False
    if not is_loopback(host) and not token:
        token, generated = generate_token(), True
    _check_port(host, port)
    policy = SecurityPolicy.from_settings(host, port, token, settings.cors_origins)
    api = create_http_app(app, policy)
    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    url = f"http://{'[' + shown + ']' if ':' in shown else shown}:{port}/"
    if args.json:
        emit_json({"url": url, "mcp": url + "mcp", "api": url + "api/v1", "token_required": bool(token),
                   "token": token if generated else None})
    else:
        print(f"Nexus Memory dashboard: {url}{'#token=' + token if generated else ''}")
        print(f"  REST API {url}api/v1   MCP {url}mcp   events {url.replace('http', 'ws', 1)}ws")
        if generated:
            print(f"  API token (shown once; set NEXUS_API_TOKEN to choose your own): {token}")
        elif token:
            print("  API token: required (from NEXUS_API_TOKEN)")
    sys.stdout.flush()
    # Stores return without waiting for the model; one thread embeds them moments later.
    deferred = _defer_store_embedding(app)
    # Drains the cognition queue and dreams on an adaptive schedule while the server runs.
    worker = app.cognition.start_worker()
    try:
        uvicorn.run(api, host=host, port=port, log_level="warning", access_log=False, timeout_graceful_shutdown=5)
    finally:
        if worker is not None:
            worker.stop()
        if deferred is not None:
            deferred.stop()
        app.close()
    return 0


def _defer_store_embedding(app: Any) -> Any:
    """Move store-time embedding off the request threads (see services/deferred_index.py)."""
    from nexus_memory.services.deferred_index import DeferredIndexer

    indexer = app.memories.indexer
    if indexer is None:
        return None
    deferred = DeferredIndexer(indexer).start()
    app.memories.indexer = deferred.submit
    return deferred
