"""A loopback model API for the real agent CLIs: Anthropic Messages, OpenAI Responses, Chat Completions.

We cannot reach a paid model from a test, so each CLI is pointed at this server, which speaks the
real wire protocol of the API that CLI uses (streaming SSE included) and answers from a script:

- a `Turn` is chosen by a marker word in the user's messages of the request (the last turn of the
  script whose marker appears wins, so session 2 is recognised even when session 1's prompt comes
  back inside injected context);
- while that turn has a `command` and the conversation holds no tool result yet, the answer is a
  call of the CLI's own shell tool (found by name in the request's tool list, its arguments built
  from the tool's JSON schema) running that command;
- after the tool result, or for a turn without a command, the answer is the turn's text;
- a request with no shell tool (title generation, summaries, quota probes) gets a short text.

Every request is recorded whole (path and JSON body) so a test can assert what reached the model.
Only 127.0.0.1 is bound; the CLIs get a fake key that never leaves this machine.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

SHELL_TOOLS = ("Bash", "bash", "shell", "shell_command", "exec_command", "run_shell_command", "Execute",
               "local_shell", "run_in_terminal")
SIDE_ANSWER = "Nexus mock reply."


@dataclass(frozen=True)
class Turn:
    when: str  # a word in the user's prompt that selects this turn
    answer: str  # the assistant's final text
    command: str | None = None  # a shell command to run first


@dataclass
class Recorded:
    method: str
    path: str
    body: Any

    def text(self) -> str:
        return self.body if isinstance(self.body, str) else json.dumps(self.body, ensure_ascii=False)


@dataclass
class View:
    """What the script needs from a request, whatever the protocol."""

    user_text: str = ""  # every user-role text of the request
    after_tool: bool = False  # the newest item is a tool result
    tools: dict[str, dict[str, Any]] = field(default_factory=dict)  # name -> JSON schema of its arguments
    tool_kinds: dict[str, str] = field(default_factory=dict)  # name -> "function" | "custom" | ...


class ModelMock:
    def __init__(self, turns: list[Turn]) -> None:
        self.turns = turns
        self.requests: list[Recorded] = []
        self._lock = threading.Lock()
        self._ids = 0
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"

    # ------------------------------------------------------------------------------------ recording
    def record(self, method: str, path: str, body: Any) -> None:
        with self._lock:
            self.requests.append(Recorded(method, path, body))

    def model_requests(self) -> list[Recorded]:
        return [r for r in self.requests if r.method == "POST" and _protocol(r.path) is not None]

    def next_id(self) -> int:
        with self._lock:
            self._ids += 1
            return self._ids

    def with_marker(self, marker: str) -> list[Recorded]:
        """Model requests whose user messages hold `marker` (one session's requests)."""
        return [r for r in self.model_requests() if marker in view_of(r).user_text]

    # ------------------------------------------------------------------------------------ script
    def decide(self, view: View) -> tuple[str, str | None, dict[str, Any] | None]:
        """(text, shell tool name, its arguments): a tool call when the name is set."""
        turn = next((t for t in reversed(self.turns) if t.when in view.user_text), None)
        shell = next((n for n in SHELL_TOOLS if n in view.tools), None)
        if turn is None or shell is None:
            return (turn.answer if turn and not turn.command else SIDE_ANSWER), None, None
        if turn.command and not view.after_tool:
            return "", shell, shell_args(view.tools[shell], turn.command, view.tool_kinds.get(shell, "function"))
        return turn.answer, None, None


def shell_args(schema: dict[str, Any], command: str, kind: str) -> dict[str, Any]:
    """Arguments for a shell tool, from its JSON schema (each CLI names and shapes them its own way)."""
    if kind == "custom":
        return {"input": command}
    props = schema.get("properties") or {}
    out: dict[str, Any] = {}
    for name, spec in props.items():
        typ = spec.get("type") if isinstance(spec, dict) else None
        if name in ("command", "cmd"):
            out[name] = ["bash", "-lc", command] if typ == "array" else command
        elif name == "description":
            out[name] = "Print the project notes"
        elif name in ("is_background", "run_in_background", "background") and typ == "boolean":
            out[name] = False
        elif name in (schema.get("required") or []) and name not in out:
            if typ == "boolean":
                out[name] = False
            elif typ == "string" and isinstance(spec.get("enum"), list) and spec["enum"]:
                out[name] = "sync" if "sync" in spec["enum"] else spec["enum"][0]
            elif typ in ("integer", "number"):
                out[name] = 30 if "timeout" in name else 1
            elif typ == "string":
                out[name] = ""
    if "command" not in out and "cmd" not in out:
        out["command"] = command
    return out


# ---------------------------------------------------------------------------------------- protocols
def _protocol(path: str) -> str | None:
    p = path.split("?", 1)[0].rstrip("/")
    if p.endswith("/messages") and "count_tokens" not in p:
        return "anthropic"
    if p.endswith("/responses"):
        return "responses"
    if p.endswith("/chat/completions"):
        return "chat"
    return None


def _content_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(_content_text(c) for c in content)
    if isinstance(content, dict):
        for key in ("text", "content", "input_text"):
            if isinstance(content.get(key), (str, list)):
                return _content_text(content[key])
    return ""


def view_of(rec: Recorded) -> View:
    body = rec.body if isinstance(rec.body, dict) else {}
    kind = _protocol(rec.path)
    v = View()
    if kind == "anthropic":
        for t in body.get("tools") or []:
            if isinstance(t, dict) and "name" in t:
                v.tools[t["name"]] = t.get("input_schema") or {}
        msgs = [m for m in body.get("messages") or [] if isinstance(m, dict) and m.get("role") == "user"]
        texts = []
        for m in msgs:
            blocks = m.get("content") if isinstance(m.get("content"), list) else [m.get("content")]
            texts += [_content_text(b) for b in blocks if not (isinstance(b, dict) and b.get("type") == "tool_result")]
        v.user_text = "\n".join(texts)
        last = (body.get("messages") or [{}])[-1]
        blocks = last.get("content") if isinstance(last, dict) and isinstance(last.get("content"), list) else []
        v.after_tool = any(isinstance(b, dict) and b.get("type") == "tool_result" for b in blocks)
    elif kind == "responses":
        for t in body.get("tools") or []:
            if isinstance(t, dict):
                name = t.get("name") or t.get("type")
                v.tools[name] = t.get("parameters") or {}
                v.tool_kinds[name] = t.get("type", "function")
        items = [i for i in body.get("input") or [] if isinstance(i, dict)]
        if items and items[-1].get("type") in ("function_call_output", "custom_tool_call_output",
                                               "local_shell_call_output"):
            v.after_tool = True
        v.user_text = "\n".join(_content_text(i.get("content")) for i in items
                                 if i.get("role") == "user" and i.get("type", "message") == "message")
    elif kind == "chat":
        for t in body.get("tools") or []:
            fn = t.get("function") if isinstance(t, dict) else None
            if isinstance(fn, dict) and "name" in fn:
                v.tools[fn["name"]] = fn.get("parameters") or {}
        msgs = [m for m in body.get("messages") or [] if isinstance(m, dict)]
        if msgs and msgs[-1].get("role") == "tool":
            v.after_tool = True
        v.user_text = "\n".join(_content_text(m.get("content")) for m in msgs if m.get("role") == "user")
    return v


def _sse(events: list[tuple[str | None, Any]]) -> bytes:
    out = []
    for name, data in events:
        line = data if isinstance(data, str) else json.dumps(data)
        out.append((f"event: {name}\n" if name else "") + f"data: {line}\n\n")
    return "".join(out).encode()


def anthropic_reply(mock: ModelMock, body: dict[str, Any], text: str, tool: str | None,
                    args: dict[str, Any] | None) -> tuple[bytes, str]:
    n = mock.next_id()
    model = body.get("model", "claude-mock")
    usage = {"input_tokens": 50, "output_tokens": 10, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0}
    if tool:
        block: dict[str, Any] = {"type": "tool_use", "id": f"toolu_mock{n:04d}", "name": tool, "input": args}
        stop = "tool_use"
    else:
        block = {"type": "text", "text": text}
        stop = "end_turn"
    message = {"id": f"msg_mock{n:04d}", "type": "message", "role": "assistant", "model": model,
               "content": [block], "stop_reason": stop, "stop_sequence": None, "usage": usage}
    if not body.get("stream"):
        return json.dumps(message).encode(), "application/json"
    start = {**message, "content": [], "stop_reason": None}
    if tool:
        first = {"type": "tool_use", "id": block["id"], "name": tool, "input": {}}
        delta = {"type": "input_json_delta", "partial_json": json.dumps(args)}
    else:
        first = {"type": "text", "text": ""}
        delta = {"type": "text_delta", "text": text}
    return _sse([
        ("message_start", {"type": "message_start", "message": start}),
        ("content_block_start", {"type": "content_block_start", "index": 0, "content_block": first}),
        ("content_block_delta", {"type": "content_block_delta", "index": 0, "delta": delta}),
        ("content_block_stop", {"type": "content_block_stop", "index": 0}),
        ("message_delta", {"type": "message_delta", "delta": {"stop_reason": stop, "stop_sequence": None},
                           "usage": {"output_tokens": 10}}),
        ("message_stop", {"type": "message_stop"}),
    ]), "text/event-stream"


def responses_reply(mock: ModelMock, body: dict[str, Any], text: str, tool: str | None,
                    args: dict[str, Any] | None, kind: str) -> tuple[bytes, str]:
    n = mock.next_id()
    rid = f"resp_mock{n:04d}"
    if tool and kind == "custom":
        item: dict[str, Any] = {"type": "custom_tool_call", "id": f"ctc_{n}", "call_id": f"call_mock{n:04d}",
                                "name": tool, "input": (args or {}).get("input", ""), "status": "completed"}
    elif tool:
        item = {"type": "function_call", "id": f"fc_{n}", "call_id": f"call_mock{n:04d}", "name": tool,
                "arguments": json.dumps(args), "status": "completed"}
    else:
        item = {"type": "message", "id": f"msg_{n}", "role": "assistant", "status": "completed",
                "content": [{"type": "output_text", "text": text, "annotations": []}]}
    usage = {"input_tokens": 50, "input_tokens_details": {"cached_tokens": 0}, "output_tokens": 10,
             "output_tokens_details": {"reasoning_tokens": 0}, "total_tokens": 60}
    base = {"id": rid, "object": "response", "created_at": int(time.time()), "model": body.get("model", "mock"),
            "status": "in_progress", "output": []}
    events: list[tuple[str | None, Any]] = [
        ("response.created", {"type": "response.created", "response": base}),
        ("response.output_item.added", {"type": "response.output_item.added", "output_index": 0,
                                        "item": {**item, "status": "in_progress"}}),
    ]
    if not tool:
        events.append(("response.output_text.delta", {"type": "response.output_text.delta", "item_id": item["id"],
                                                      "output_index": 0, "content_index": 0, "delta": text}))
    events += [
        ("response.output_item.done", {"type": "response.output_item.done", "output_index": 0, "item": item}),
        ("response.completed", {"type": "response.completed",
                                "response": {**base, "status": "completed", "output": [item], "usage": usage}}),
    ]
    if not body.get("stream", True):
        return json.dumps({**base, "status": "completed", "output": [item], "usage": usage}).encode(), \
            "application/json"
    return _sse(events), "text/event-stream"


def chat_reply(mock: ModelMock, body: dict[str, Any], text: str, tool: str | None,
               args: dict[str, Any] | None) -> tuple[bytes, str]:
    n = mock.next_id()
    cid, model, created = f"chatcmpl-mock{n:04d}", body.get("model", "mock"), int(time.time())
    usage = {"prompt_tokens": 50, "completion_tokens": 10, "total_tokens": 60}
    if tool:
        call = {"id": f"call_mock{n:04d}", "type": "function", "function": {"name": tool, "arguments": json.dumps(args)}}
        message: dict[str, Any] = {"role": "assistant", "content": None, "tool_calls": [call]}
        finish = "tool_calls"
    else:
        message = {"role": "assistant", "content": text}
        finish = "stop"
    if not body.get("stream"):
        return json.dumps({"id": cid, "object": "chat.completion", "created": created, "model": model,
                           "choices": [{"index": 0, "message": message, "finish_reason": finish}],
                           "usage": usage}).encode(), "application/json"

    def chunk(delta: dict[str, Any], finish_reason: str | None = None, **extra: Any) -> dict[str, Any]:
        return {"id": cid, "object": "chat.completion.chunk", "created": created, "model": model,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}], **extra}

    if tool:
        first = chunk({"role": "assistant", "content": None,
                       "tool_calls": [{"index": 0, **call}]})
    else:
        first = chunk({"role": "assistant", "content": text})
    events: list[tuple[str | None, Any]] = [(None, first), (None, chunk({}, finish))]
    events.append((None, {"id": cid, "object": "chat.completion.chunk", "created": created, "model": model,
                          "choices": [], "usage": usage}))
    events.append((None, "[DONE]"))
    return _sse(events), "text/event-stream"


def _handler(mock: ModelMock) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:
            pass

        def _send(self, status: int, payload: bytes, ctype: str = "application/json") -> None:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(payload)))
            if ctype == "text/event-stream":
                self.send_header("Cache-Control", "no-cache")
            self.end_headers()
            self.wfile.write(payload)

        def do_GET(self) -> None:
            mock.record("GET", self.path, None)
            if self.path.split("?", 1)[0].rstrip("/").endswith("/models"):
                self._send(200, json.dumps({"object": "list", "data": [
                    {"id": "mock-model", "object": "model", "created": 0, "owned_by": "nexus-test",
                     "type": "model", "display_name": "Mock model"}]}).encode())
                return
            self._send(404, b'{"error":{"message":"not found in the mock"}}')

        def do_HEAD(self) -> None:
            mock.record("HEAD", self.path, None)
            self._send(200, b"")

        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            try:
                body: Any = json.loads(raw or b"{}")
            except ValueError:
                body = raw.decode("utf-8", "replace")
            rec = Recorded("POST", self.path, body)
            mock.record("POST", self.path, body)
            kind = _protocol(self.path)
            if kind is None or not isinstance(body, dict):
                if self.path.split("?", 1)[0].endswith("count_tokens"):
                    self._send(200, b'{"input_tokens": 100}')
                else:
                    self._send(404, b'{"error":{"message":"not found in the mock"}}')
                return
            view = view_of(rec)
            text, tool, args = mock.decide(view)
            if kind == "anthropic":
                payload, ctype = anthropic_reply(mock, body, text, tool, args)
            elif kind == "responses":
                payload, ctype = responses_reply(mock, body, text, tool, args, view.tool_kinds.get(tool or "", ""))
            else:
                payload, ctype = chat_reply(mock, body, text, tool, args)
            self._send(200, payload, ctype)

    return Handler


@contextmanager
def model_mock(turns: list[Turn]) -> Iterator[ModelMock]:
    mock = ModelMock(turns)
    thread = threading.Thread(target=mock.server.serve_forever, daemon=True)
    thread.start()
    try:
        yield mock
    finally:
        mock.server.shutdown()
        mock.server.server_close()
