"""A real uvicorn server on 127.0.0.1 in a background thread, for HTTP, MCP and browser tests."""

from __future__ import annotations

import socket
import threading
import time
from typing import Any

from nexus_memory.app import App
from nexus_memory.http.security import SecurityPolicy


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LiveServer:
    """`nexus serve`'s app on a free loopback port; `url` ends without a slash."""

    def __init__(self, app: App, *, token: str | None = None, cors_origins: str | None = None) -> None:
        import uvicorn

        from nexus_memory.http.app import create_http_app

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.policy = SecurityPolicy.from_settings("127.0.0.1", self.port, token, cors_origins)
        self.api = create_http_app(app, self.policy)
        config = uvicorn.Config(self.api, host="127.0.0.1", port=self.port, log_level="warning",
                                access_log=False, lifespan="on", timeout_graceful_shutdown=2)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the test server did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.should_exit = True
        self.thread.join(15)
