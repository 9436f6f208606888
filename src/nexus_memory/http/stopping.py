"""A request still running when `nexus serve` stops gets a plain 503, not a traceback.

On SIGTERM or Ctrl-C uvicorn stops accepting connections and waits `timeout_graceful_shutdown`
seconds for the requests in flight. A request that outlasts that wait (a write queued behind another
process's SQLite write lock, say, which may wait up to NEXUS_BUSY_TIMEOUT_MS) is cancelled, and uvicorn
logs the cancellation as "Exception in ASGI application" with a full traceback through every
middleware. Nothing is wrong, the server is just stopping: this middleware, the outermost, turns the
cancellation into one warning line and, when no response has started, a 503 that tells the client to
retry. The request was not acknowledged, so a client that retries loses nothing.

uvicorn cancels a request's task only at that shutdown deadline (a client that goes away is reported
through `receive`, not by cancellation), so a cancellation seen here is a stop.
"""

from __future__ import annotations

import asyncio
import json
import logging

from starlette.types import ASGIApp, Receive, Scope, Send

log = logging.getLogger("nexus_memory.http")

#: The answer to a request the server stopped before it finished.
STOPPED_BODY = json.dumps({
    "error": "stopping", "field": None,
    "message": "the server stopped before this request finished; it was not acknowledged",
    "hint": "retry once `nexus serve` is running again",
}).encode()


class GraceLogFilter(logging.Filter):
    """uvicorn reports the end of its grace as an ERROR ("Cancel 2 running task(s), timeout graceful
    shutdown exceeded") on every stop under load: a stop is not an error. Reworded as a warning."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.getMessage().endswith("timeout graceful shutdown exceeded") and record.levelno > logging.WARNING:
            count = record.args[0] if isinstance(record.args, tuple) and record.args else "some"
            record.msg, record.args = "nexus serve stopping: %s request(s) still running after the grace period", (count,)
            record.levelno, record.levelname = logging.WARNING, "WARNING"
        return True


def reword_grace_errors() -> None:
    log = logging.getLogger("uvicorn.error")
    if not any(isinstance(f, GraceLogFilter) for f in log.filters):
        log.addFilter(GraceLogFilter())


class StopGuard:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        try:
            await self.app(scope, receive, send)
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if task is not None:
                task.uncancel()  # handled: the task ends normally once the answer is sent
            log.warning("nexus serve stopped while %s %s was still running", scope.get("method", "?"),
                        scope.get("path", "?"))
            try:
                await send({"type": "http.response.start", "status": 503,
                            "headers": [(b"content-type", b"application/json"), (b"connection", b"close"),
                                        (b"retry-after", b"1")]})
                await send({"type": "http.response.body", "body": STOPPED_BODY})
            except RuntimeError:  # the response had started: uvicorn closes the connection it cut short
                pass
