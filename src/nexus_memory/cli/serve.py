"""serve, mcp and worker: the long-running surfaces. fastapi, uvicorn and mcp are imported only here, lazily."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from nexus_memory.app import App

COMMANDS = ("serve", "mcp", "worker")


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

    p = sub.add_parser(
        "worker", parents=[common], help="run the background worker (embedding and cognition) on its own",
        description="Embed memories that lack a vector and run the cognition worker (drain jobs, dream) in "
                    "this process, at a lowered CPU priority. `nexus serve` starts one itself; run it alone "
                    "next to a server started with NEXUS_SERVE_BACKGROUND=off. Prints a JSON status line "
                    "every few seconds; stops at the end of a piped standard input, or with Ctrl-C.",
    )
    p.add_argument("--nice", type=int, default=19, metavar="N",
                   help="raise the process's nice value by N so requests go first (default 19; 0 = unchanged)")
    p.add_argument("--no-idle-class", action="store_true",
                   help="keep the normal scheduling class (by default, on Linux, the worker runs as SCHED_IDLE: "
                        "only on a core nothing else wants)")
    p.add_argument("--scan-secs", type=float, default=300.0, metavar="S",
                   help="look for memories without a vector every S seconds (default 300; also at start)")
    p.add_argument("--yield-to", type=int, metavar="PID",
                   help="before each small unit of work wait (at most 2 s) while process PID (a server) is busy; "
                        "use the int8 model kernel that server prepares")
    p.add_argument("--no-embeddings", action="store_true", help="do not embed; only the cognition worker")
    p.add_argument("--no-cognition", action="store_true", help="do not run the cognition worker; only embed")
    p.set_defaults(handler=cmd_worker)


def _app(args: argparse.Namespace, *, long_running: bool = False, **overrides: Any) -> App:
    """`long_running`: a server or worker process, where one model thread per run is the default
    (many runs share the cores; see SINGLE_THREAD_BLAS)."""
    from dataclasses import replace

    from nexus_memory.app import build_app
    from nexus_memory.config import load_settings

    settings = load_settings(database_path=getattr(args, "db", None),
                             database_url=getattr(args, "database_url", None), **overrides)
    if long_running and not settings.embedding_threads:
        settings = replace(settings, embedding_threads=1)
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

    with _app(args) as app:
        run_stdio(app)
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
    # SIGTERM and SIGINT stop the server cleanly at any moment, with exit 0. The handler only notes the
    # request (raising from it could land inside a library's C code and come out as its error); start-up
    # looks at it between steps, uvicorn looks at it as soon as its own handlers are in place, and
    # inside uvicorn our handle_exit stops the worker child at once. Cleanup itself is never interrupted.
    stop = _Signals().install()
    app: Any = None
    background = _Background()
    warm: Any = None
    try:
        try:
            app = _app(args, long_running=True, host=args.host, port=args.port)
            stop.check()
            api, host, port = _prepare(app, args)
            stop.check()
            # Store-time embedding and the cognition worker run beside the requests (background/serve_child.py).
            warm = _warm_model(app)  # first: the worker waits for the int8 kernel this prepares on a new machine
            background = _start_background(app)
            stop.check()
            _run_uvicorn(api, host, port, stop=stop, on_exit=lambda: _stop_soon(background))
        finally:
            stop.cleaning = True
            background.stop(timeout=STOP_WORKER_SECS)
            if app is not None and _handlers_finished(app.settings.busy_timeout_ms / 1000 + 2):
                app.close()
            _finish_warm_up(warm)
    except _Stopped:
        pass
    return 0


#: How long the worker child may take to finish after its input closes before it is killed.
STOP_WORKER_SECS = 0.5
#: How long the exit waits for a model load in flight (interpreter teardown under it aborts the process).
WARM_UP_JOIN_SECS = 60.0


class _Stopped(BaseException):
    """A stop was requested during start-up: unwinds `cmd_serve` through its cleanup."""


class _Signals:
    def __init__(self) -> None:
        self.cleaning = False
        self.requested = False

    def install(self) -> _Signals:
        import signal

        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, self._handle)
        return self

    def _handle(self, signum: int, frame: Any) -> None:
        self.requested = True

    def check(self) -> None:
        if self.requested and not self.cleaning:
            raise _Stopped()


def _prepare(app: App, args: argparse.Namespace) -> tuple[Any, str, int]:
    from nexus_memory.cli.output import emit_json
    from nexus_memory.http.app import create_http_app
    from nexus_memory.http.security import SecurityPolicy, generate_token, is_loopback

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
        print(f"Nexus Memory dashboard: {url}{f'#token={token}' if generated else ''}")
        print(f"  REST API {url}api/v1   MCP {url}mcp   events {url.replace('http', 'ws', 1)}ws")
        if generated:
            print(f"  API token (shown once; set NEXUS_API_TOKEN to choose your own): {token}")
        elif token:
            print("  API token: required (from NEXUS_API_TOKEN)")
    sys.stdout.flush()
    return api, host, port


def _run_uvicorn(api: Any, host: str, port: int, *, stop: _Signals, on_exit: Any) -> None:
    """uvicorn.run, with `on_exit` called the moment a stop signal arrives (before requests drain), and a
    stop requested while uvicorn was still starting honoured as soon as its handlers are in place."""
    import contextlib
    import signal
    from collections.abc import Iterator

    import uvicorn

    class Server(uvicorn.Server):
        def handle_exit(self, sig: int, frame: Any) -> None:
            on_exit()
            super().handle_exit(sig, frame)

        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            with super().capture_signals():
                if stop.requested:
                    self.handle_exit(signal.SIGTERM, None)
                yield

    config = uvicorn.Config(api, host=host, port=port, log_level="warning", access_log=False,
                            timeout_graceful_shutdown=5)
    Server(config).run()


def _stop_soon(background: Any) -> None:
    import threading

    threading.Thread(target=background.stop, kwargs={"timeout": STOP_WORKER_SECS}, name="nexus-stop-worker",
                     daemon=True).start()


def _finish_warm_up(thread: Any) -> None:
    """Wait for a model load in flight: onnxruntime inside a daemon thread while the interpreter finalises
    aborts the process ("terminate called without an active exception", exit 134)."""
    if thread is None or not thread.is_alive():
        return
    thread.join(WARM_UP_JOIN_SECS)
    if thread.is_alive():  # still loading: leave without finalising rather than abort under it
        import os

        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)


def _handlers_finished(timeout: float) -> bool:
    """Wait for request handlers still running on their threads. A handler whose request uvicorn
    cancelled at the end of its grace keeps running on its thread (a thread cannot be cancelled):
    closing the store's connections under it crashed the process (SIGSEGV in SQLite). The longest a
    handler can wait is the busy timeout. False if one is still running (the connections are then left
    to the process exit, which SQLite's WAL survives)."""
    import threading
    import time

    deadline = time.monotonic() + timeout
    for thread in threading.enumerate():
        if thread.name.startswith("AnyIO worker thread"):  # anyio's name for the threads handlers run on
            thread.join(max(0.0, deadline - time.monotonic()))
            if thread.is_alive():
                return False
    return True


def _warm_model(app: App) -> Any:
    """Load the embedding model on a thread while the server starts, so the first search does not wait
    for it (nor, on a new machine, for the int8 kernel's one-off preparation: about a second).
    Returns the thread (joined at exit), or None."""
    import logging
    import threading

    emb = app.embeddings
    load = getattr(emb.embedder, "load", None) if emb is not None else None
    if load is None or emb is None or emb.unavailable_reason() is not None:
        return None

    def run() -> None:
        try:
            load()
        except Exception as exc:  # the first search reports it properly; a warm-up never stops the server
            logging.getLogger(__name__).warning("could not preload the embedding model: %s", exc)

    thread = threading.Thread(target=run, name="nexus-model-warmup", daemon=True)
    thread.start()
    return thread


class _Background:
    """What `cmd_serve` stops on the way out, whichever way the background work runs."""

    def __init__(self, *parts: Any) -> None:
        import threading

        self.parts = [p for p in parts if p is not None]
        self._lock = threading.Lock()

    def stop(self, timeout: float | None = None) -> None:
        """Idempotent; may run from the signal path and from the exit at once (one does the work)."""
        from nexus_memory.background.serve_child import ServeChild

        with self._lock:
            for part in self.parts:
                if isinstance(part, ServeChild) and timeout is not None:
                    part.stop(timeout=timeout)
                else:
                    part.stop()
            self.parts = []


def _start_background(app: App) -> _Background:
    """NEXUS_SERVE_BACKGROUND: `process` (default) runs `nexus worker` as a child process; `thread`
    keeps both on threads of the server (one GIL with the requests); `off` runs neither (stores
    embed in the request, as the CLI does; run `nexus worker` yourself for cognition)."""
    import os

    mode = app.settings.serve_background
    indexer = app.memories.indexer
    cognition = app.settings.cognition.auto_runtime_enabled and app.has_cognition
    if mode == "off" or (indexer is None and not cognition):
        return _Background()
    if mode == "thread":
        from nexus_memory.background.index_thread import IndexThread

        deferred = IndexThread(indexer).start() if indexer is not None else None
        if deferred is not None:
            app.memories.indexer = deferred.submit
        return _Background(app.cognition.start_thread() if cognition else None, deferred)
    from nexus_memory.background.serve_child import ServeChild

    env = dict(os.environ)
    if app.settings.database_url:
        env["NEXUS_DATABASE_URL"] = app.settings.database_url
    else:
        env["NEXUS_DATABASE_PATH"] = str(app.settings.database_path)
    argv = [sys.executable, "-m", "nexus_memory.cli.main", "worker", "--yield-to", str(os.getpid())]
    if indexer is None:
        argv.append("--no-embeddings")
    if not cognition:
        argv.append("--no-cognition")
    child = ServeChild(argv, env=env).start()
    if indexer is not None:
        app.memories.indexer = child.submit
    if cognition:
        app.cognition.thread_status_provider = child.cognition_status
    return _Background(child)


def cmd_worker(args: argparse.Namespace) -> int:
    import os
    import stat

    from nexus_memory.background.serve_child import ServeChildLoop
    from nexus_memory.background.throttle import ServerLoad, lower_priority

    single_thread_blas()
    priority = lower_priority(args.nice, idle_class=not args.no_idle_class)
    # Beside a server (--yield-to) the server prepares the model's int8 kernel as it starts; this
    # low-priority process waits for that instead of holding the lock the server would wait on.
    with _app(args, long_running=True, embedding_kernel_prepare=False if args.yield_to else None) as app:
        worker = None
        try:
            emb = app.embeddings
            assert emb is not None  # build_app always wires the embedding service ("none" backend included)
            model = emb.model_id
            embedding = not args.no_embeddings and emb.index is not None and model is not None
            # One watcher per thread (each keeps its own last sample).
            server = ServerLoad(args.yield_to) if args.yield_to else None
            gate = server.wait_quiet if server is not None else None
            if not args.no_cognition:
                worker = app.cognition.start_thread(
                    before_tick=ServerLoad(args.yield_to).wait_quiet if args.yield_to else None)

            def extra() -> dict[str, Any]:
                return {"cognition": worker.status.to_dict() if worker is not None else None,
                        "embed_errors": emb.store_errors, "last_error": emb.last_error,
                        "yielded_secs": round(server.waited, 1) if server is not None else None,
                        "priority": priority}

            loop = ServeChildLoop(
                index=emb.index_safely if embedding else None,
                missing=emb.missing_ids if embedding else None,
                load=app.store.get_many, newest=emb.newest_id if embedding else None, extra=extra,
                before_unit=gate, scan_secs=args.scan_secs,
            )
            # Protocol input only from a pipe (`nexus serve`); from a terminal or /dev/null run until stopped.
            piped = stat.S_ISFIFO(os.fstat(sys.stdin.fileno()).st_mode) if sys.stdin is not None else False
            return loop.run(sys.stdin if piped else None, sys.stdout)
        finally:
            if worker is not None:
                worker.stop()
