"""A loopback HTTP server that speaks the OpenAI chat-completions and Anthropic messages protocols.

Each test scripts the answers (status, JSON body or an SSE stream) and reads back the requests.
"""

from __future__ import annotations

import json
import threading
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Reply:
    status: int = 200
    body: Any = None
    sse: list[tuple[str | None, Any]] | None = None  # (event name, data); data "[DONE]" or JSON-able
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Script:
    replies: deque[Reply] = field(default_factory=deque)
    requests: list[dict[str, Any]] = field(default_factory=list)

    def add(self, *replies: Reply) -> None:
        self.replies.extend(replies)


def openai_ok(content: str, prompt: int = 11, completion: int = 7, model: str = "gpt-test") -> Reply:
    return Reply(body={"id": "c1", "object": "chat.completion", "model": model,
                       "choices": [{"index": 0, "message": {"role": "assistant", "content": content},
                                    "finish_reason": "stop"}],
                       "usage": {"prompt_tokens": prompt, "completion_tokens": completion,
                                 "total_tokens": prompt + completion}})


def anthropic_ok(content: str, prompt: int = 13, completion: int = 5, model: str = "claude-test") -> Reply:
    return Reply(body={"id": "m1", "type": "message", "role": "assistant", "model": model,
                       "content": [{"type": "text", "text": content}], "stop_reason": "end_turn",
                       "usage": {"input_tokens": prompt, "output_tokens": completion}})


def _handler(script: Script) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length) or b"{}")
            script.requests.append({"path": self.path, "headers": {k.lower(): v for k, v in self.headers.items()}, "body": body})
            reply = script.replies.popleft() if script.replies else Reply(500, {"error": {"message": "no script"}})
            if reply.sse is not None:
                self.send_response(reply.status)
                self.send_header("Content-Type", "text/event-stream")
                self.end_headers()
                for event, data in reply.sse:
                    chunk = ""
                    if event:
                        chunk += f"event: {event}\n"
                    chunk += f"data: {data if isinstance(data, str) else json.dumps(data)}\n\n"
                    self.wfile.write(chunk.encode())
                    self.wfile.flush()
                return
            payload = json.dumps(reply.body).encode()
            self.send_response(reply.status)
            self.send_header("Content-Type", "application/json")
            for k, v in reply.headers.items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

    return Handler


@contextmanager
def serve() -> Iterator[tuple[str, Script]]:
    script = Script()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(script))
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", script
    finally:
        server.shutdown()
        server.server_close()
