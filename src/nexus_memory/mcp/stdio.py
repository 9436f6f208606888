"""MCP over stdin/stdout with every incoming line checked before the SDK sees it.

The SDK's stdio transport hands a line it cannot parse to the session as an exception and answers
nothing, so a client that sent a malformed line, arguments nested past the parser's limit or an
oversized request waits for ever. Here each line is read bounded (MAX_LINE_BYTES), parsed, and
measured (depth, id); a line that fails gets a JSON-RPC error response at once (-32700 for text that
is not JSON, -32600 for JSON that is not an acceptable request), with the request's id when it has a
usable one. Ids must be strings of at most 256 characters or integers a JavaScript client can hold
exactly (|id| < 2^53): an id a client cannot echo back is as good as none.

Standard input and output are claimed the way the SDK claims them: the protocol moves to private
descriptors, fd 0 reads the null device and fd 1 goes to stderr, so a stray print from any library
cannot corrupt the protocol stream.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import AsyncIterator
from typing import IO, Any

MAX_LINE_BYTES = 8 * 1024 * 1024
MAX_DEPTH = 64
MAX_ID_CHARS = 256
MAX_SAFE_INT = 2**53 - 1
PARSE_ERROR = -32700
INVALID_REQUEST = -32600


def _depth(value: Any, limit: int) -> int:
    """Nesting depth of a parsed JSON value, counted iteratively, stopping past `limit`."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if not isinstance(item, dict | list):
            continue
        deepest = max(deepest, depth)
        if deepest > limit:
            return deepest
        children = item.values() if isinstance(item, dict) else item
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return deepest


def _usable_id(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return abs(value) <= MAX_SAFE_INT
    return isinstance(value, str) and len(value) <= MAX_ID_CHARS


def error_response(request_id: Any, code: int, message: str) -> str:
    return json.dumps({"jsonrpc": "2.0", "id": request_id, "error": {"code": code, "message": message}})


def check_line(line: bytes) -> tuple[str | None, str | None]:
    """(the line to hand to the SDK, or the error response to send instead); (None, None) for a blank line."""
    if not line.strip():
        return None, None
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError as exc:
        return None, error_response(None, PARSE_ERROR, f"Parse error: the line is not UTF-8 (byte {exc.start})")
    try:
        message = json.loads(text)
    except RecursionError:
        return None, error_response(None, PARSE_ERROR, f"Parse error: nested deeper than {MAX_DEPTH} levels")
    except ValueError as exc:
        return None, error_response(None, PARSE_ERROR, f"Parse error: {str(exc)[:200]}")
    if not isinstance(message, dict):
        return None, error_response(None, INVALID_REQUEST,
                                    "Invalid Request: send one JSON-RPC object per line (batches are not supported)")
    request_id = message.get("id")
    usable = request_id if _usable_id(request_id) else None
    if "id" in message and request_id is not None and usable is None:
        return None, error_response(None, INVALID_REQUEST, "Invalid Request: the id must be a string of at most "
                                    f"{MAX_ID_CHARS} characters or an integer below 2^53")
    if _depth(message, MAX_DEPTH) > MAX_DEPTH:
        return None, error_response(usable, INVALID_REQUEST, f"Invalid Request: nested deeper than {MAX_DEPTH} levels")
    import mcp_types

    try:
        mcp_types.jsonrpc_message_adapter.validate_python(message, by_name=False)
    except Exception as exc:  # pydantic's ValidationError, or anything the adapter refuses
        return None, error_response(usable, INVALID_REQUEST, f"Invalid Request: {_why(exc)[:200]}")
    return text, None


def _why(exc: Exception) -> str:
    errors = getattr(exc, "errors", None)
    try:
        first = errors()[0] if callable(errors) else None
    except Exception:
        first = None
    if not first:
        return "not a JSON-RPC 2.0 message"
    where = ".".join(str(p) for p in first.get("loc", ())[1:]) or "message"
    return f"{where}: {first.get('msg', 'invalid')}"


def read_line(fh: IO[bytes]) -> tuple[bytes, bool]:
    """(the next line, whether it was cut at MAX_LINE_BYTES); an oversized line's rest is skipped."""
    line = fh.readline(MAX_LINE_BYTES + 1)
    if len(line) <= MAX_LINE_BYTES or line.endswith(b"\n"):
        return line, False
    while True:  # drop the rest of the oversized line
        rest = fh.readline(1024 * 1024)
        if not rest or rest.endswith(b"\n"):
            return b"", True


class _Out:
    """The SDK's stdout and our error lines through one lock, so no two lines ever interleave."""

    def __init__(self, fh: IO[bytes]) -> None:
        import anyio

        self.fh = fh
        self.lock = anyio.Lock()

    async def write(self, text: str) -> None:
        import anyio.to_thread

        data = text.encode("utf-8", "replace")
        async with self.lock:
            await anyio.to_thread.run_sync(self._write, data)

    def _write(self, data: bytes) -> None:
        self.fh.write(data)
        self.fh.flush()

    async def flush(self) -> None:
        return None


class _In:
    """Checked lines for the SDK; refused ones are answered through `out` and never reach it."""

    def __init__(self, fh: IO[bytes], out: _Out) -> None:
        self.fh = fh
        self.out = out

    def __aiter__(self) -> _In:
        return self

    async def __anext__(self) -> str:
        import anyio.to_thread

        while True:
            line, cut = await anyio.to_thread.run_sync(read_line, self.fh, abandon_on_cancel=True)
            if cut:
                await self.out.write(error_response(None, INVALID_REQUEST, "Invalid Request: the line is longer "
                                                    f"than {MAX_LINE_BYTES} bytes") + "\n")
                continue
            if not line:
                raise StopAsyncIteration
            passed, refused = check_line(line)
            if refused is not None:
                await self.out.write(refused + "\n")
            elif passed is not None:
                return passed


@contextlib.contextmanager
def _claimed_std() -> Any:
    """Private duplicates of fd 0 and 1 for the protocol; fd 0 -> /dev/null, fd 1 -> stderr meanwhile."""
    private_in, private_out = os.dup(0), os.dup(1)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    os.dup2(2, 1)
    try:
        with os.fdopen(private_in, "rb", buffering=1024 * 1024) as fin, os.fdopen(private_out, "wb") as fout:
            yield fin, fout
    finally:
        with contextlib.suppress(OSError):
            os.dup2(2, 1)


@contextlib.asynccontextmanager
async def guarded_stdio() -> AsyncIterator[tuple[Any, Any]]:
    """Like the SDK's `stdio_server()`, with every line checked (see the module doc)."""
    from mcp.server.stdio import stdio_server

    with _claimed_std() as (fin, fout):
        out = _Out(fout)
        async with stdio_server(stdin=_In(fin, out), stdout=out) as streams:  # type: ignore[arg-type]
            yield streams


async def serve(server: Any) -> None:
    """Serve one MCP session on stdin/stdout until the client closes its end."""
    lowlevel = server._lowlevel_server  # what MCPServer.run_stdio_async drives
    async with guarded_stdio() as (read_stream, write_stream):
        await lowlevel.run(read_stream, write_stream, lowlevel.create_initialization_options())
