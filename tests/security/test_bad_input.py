"""The bad-input suite (issue 15): hostile input on every surface, driven for real.

Surfaces: the CLI through its console script, the hook entry point with hostile payloads, REST over
HTTP on loopback (raw bodies, chunked bodies, hypothesis-made JSON, and schemathesis over the
OpenAPI document), MCP over stdio and over streamable HTTP with the official SDK client, and raw
JSON-RPC lines the SDK client would never send. Every case checks three things:

- a clear answer: an error with a message (one `nexus:` line on the CLI, a JSON body with `message`
  on HTTP, a tool error with text on MCP, a JSON-RPC error for a bad line) or a normal result; for
  hooks, exit 0 and a JSON object (`{}` for capture events);
- no traceback and no hang: every call has a bounded wait;
- what was stored before is still there (a sentinel memory, read back after the case).

Generated where that is natural (hypothesis for JSON shapes and strings, schemathesis for the
OpenAPI document), derandomized so a failure reproduces. The counts per surface are printed at
the end of the run (tests/security/conftest.py) and `test_the_suite_is_big_enough` checks them.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from nexus_memory.app import App, build_app
from nexus_memory.config import load_settings
from nexus_memory.services.memories import StoreRequest
from tests.conftest import nexus_executable
from tests.security.conftest import CASES
from tests.servekit import LiveServer

SENTINEL = "sentinel: the staging database listens on port 5433"
FEW = settings(max_examples=40, deadline=None, derandomize=True, database=None,
               phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
LEAF = st.one_of(st.none(), st.booleans(), st.integers(min_value=-(2**80), max_value=2**80),
                 st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=40),
                 st.sampled_from(["\ud800", "\x00", "ключ", "' OR 1=1 --", "\u202e", "💥" * 5, "a" * 5000]))
JSON = st.recursive(LEAF, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner,
                                                                                      max_size=4), max_leaves=24)
HOSTILE_TEXT = st.one_of(st.text(max_size=300), st.sampled_from([
    "", " ", "\x00", "\ud800", "\udcff", "\u202e\u202d", "💥" * 100, "a" * 250_000, "-" * 3, "--json", "'; DROP TABLE memories; --",
    "$(rm -rf /)", "NaN", "1e999", "\n" * 1000, "<private>x</private>", "%s%s%n", "../../etc/passwd",
]))


def _sentinel_id(app: App) -> int:
    """The sentinel, stored after a decoy (id 1, which the cases may change on purpose)."""
    app.memories.store(StoreRequest(content="decoy: cases may update or forget this one"))
    return app.memories.store(StoreRequest(content=SENTINEL, labels=("sentinel",))).memory.id


def _sentinel_alive(memory_id: int) -> None:
    check = build_app(load_settings(), embeddings=False, cognition=False)
    try:
        memory = check.memories.get(memory_id)
    finally:
        check.close()
    assert memory.content == SENTINEL and memory.is_active


# ----------------------------------------------------------------------------------------------------- CLI
def _cli(args: list[str | bytes], stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([nexus_executable(), *args], input=stdin, capture_output=True, timeout=60, check=False,
                          env=dict(os.environ))


def _check_cli(proc: subprocess.CompletedProcess[bytes]) -> None:
    err = proc.stderr.decode("utf-8", "replace")
    assert "Traceback" not in err and "internal error" not in err, err[-2000:]
    assert proc.returncode in (0, 1, 2), (proc.returncode, err[-500:])
    if proc.returncode:
        lines = [ln for ln in err.splitlines() if ln.startswith("nexus:")]
        assert len(lines) == 1 and "error" in lines[0], err[-1000:]
        assert len(lines[0]) < 2000


CLI_CASES: list[tuple[list[str | bytes], bytes | None]] = [
    (["store"], b""), (["store"], b"   \n\t "), (["store"], b"\xff\xfe\x00bad"), (["store"], b"x" * 2_000_000),
    (["store", "-m", ""], None), (["store", "-m", " "], None), (["store", "-m", "x" * 120_000], None),
    (["store", "-m", "x", "-g", "nonsense"], None), (["store", "-m", "x", "--lane", "nope"], None),
    (["store", "-m", "x", "-a", "bad agent name!"], None), (["store", "-m", "x", "-a", "a" * 500], None),
    (["store", "-m", "x", "-l", "y" * 101], None), (["store", "-m", "x", "-l", ",".join(["l"] * 200)], None),
    (["store", "-m", "x", "--metadata-json", "[]"], None), (["store", "-m", "x", "--metadata-json", "{"], None),
    (["store", "-m", "x", "--metadata-json", '{"a": NaN}'], None),
    (["store", "-m", "x", "--metadata-json", '{"a": -Infinity}'], None),
    (["store", "-m", "x", "--metadata-json", "[" * 2000 + "]" * 2000], None),
    (["store", "-m", "x", "--metadata-json", '{"a":' * 40 + "1" + "}" * 40], None),
    (["store", "-m", "x", "--metadata-json", json.dumps({"b": "z" * 120_000})], None),
    (["store", "-m", "x", "--metadata-json", '"just a string"'], None),
    (["store", "-m", "x", "--session-key", "k" * 600], None), (["store", "-m", "x", "--context", "c" * 60_000], None),
    (["store", "-m", b"caf\xe9"], None), (["store", "-m", "x", "-l", b"\xff"], None),
    (["search"], None), (["search", ""], None), (["search", '"""'], None), (["search", "AND OR NOT NEAR * :"], None),
    (["search", "x", "-n", "0"], None), (["search", "x", "-n", "-5"], None), (["search", "x", "-n", "9" * 30], None),
    (["search", "x", "--mode", "telepathy"], None), (["search", "x", "--since", "yesterday-ish"], None),
    (["search", "x", "--since", "99999999999999w"], None), (["search", "q" * 100_000], None),
    (["list", "--offset", "-1"], None), (["list", "--offset", "9" * 25], None), (["list", "-n", "0"], None),
    (["list", "-n", "100001"], None), (["list", "--until", "0000-00-00"], None), (["list", "--level", "cosmic"], None),
    (["list", "-g", "facts,nope"], None), (["list", "--label", "x" * 10_000], None),
    (["get", "0"], None), (["get", "-1"], None), (["get", "abc"], None), (["get", "1.5"], None),
    (["get", "9" * 5000], None), (["get", str(2**63)], None), (["get", "424242"], None),
    (["forget", "424242"], None), (["delete", str(2**64)], None), (["stats", "-a", "!!"], None),
    (["export", "-o", "/"], None), (["export", "-o", "/proc/version"], None), (["export", "-o", "/dev/full"], None),
    (["export", "--since", "later"], None), (["import", "/nonexistent/file.jsonl"], None),
    (["import", "/dev/null"], None), (["import", "/etc/hostname", "--format", "nexus"], None),
    (["import", "/etc/hostname", "--batch-size", "0"], None), (["session", "start", "--agent", "\x01"], None),
    (["hooks", "install", "--agent", "nonexistent-tool"], None), (["nosuchcommand"], None), (["--version", "x"], None),
    (["list", "--db", "/nonexistent/dir/x.db"], None), (["list", "--database-url", "postgresql://nobody@[::1"], None),
]


def test_cli_bad_input(app: App, tmp_path: Path) -> None:
    sentinel = _sentinel_id(app)
    app.close()
    folder = tmp_path / "a-folder"
    folder.mkdir(mode=0o755)
    read_only = tmp_path / "read-only.db"
    read_only.write_bytes(b"")
    read_only.chmod(0o400)
    local: list[tuple[list[str | bytes], bytes | None]] = [
        (["list", "--db", str(folder)], None), (["store", "-m", "x", "--db", str(folder)], None),
        (["store", "-m", "x", "--db", str(folder / "missing" / "deeper" / "x.db")], None),
        (["export", "-o", str(folder)], None), (["import", str(folder)], None),
    ]
    for args, stdin in CLI_CASES + local:
        proc = _cli(args, stdin)
        _check_cli(proc)
        CASES["cli (handwritten)"] += 1
    _sentinel_alive(sentinel)
    assert not Path("/nonexistent").exists()
    assert folder.stat().st_mode & 0o777 == 0o755, "a folder named as the database is never chmod-ed"


@pytest.mark.slow
def test_cli_generated_input(app: App) -> None:
    sentinel = _sentinel_id(app)
    app.close()

    @FEW
    @given(command=st.sampled_from(["store", "search", "list", "get", "forget", "stats"]),
           text=HOSTILE_TEXT, number=st.integers(min_value=-(2**70), max_value=2**70), meta=JSON)
    def run(command: str, text: str, number: int, meta: Any) -> None:
        safe = text.encode("utf-8", "surrogateescape" if "\udcff" in text else "replace")
        args: list[str | bytes] = [command]
        if command == "store":
            args += ["-m", safe[:100_000], "-l", safe[:50], "--metadata-json", json.dumps({"m": meta}, allow_nan=True)]
        elif command == "search":
            args += [safe[:100_000], "-n", str(number)]
        elif command == "list":
            args += ["--offset", str(number), "--label", safe[:200] or "x"]
        elif command in ("get", "forget"):
            args += [str(number)]
        else:
            args += ["-a", safe[:200] or "x"]
        if any(b"\x00" in a for a in args if isinstance(a, bytes)):
            args = [a.replace(b"\x00", b"0") if isinstance(a, bytes) else a for a in args]
        _check_cli(_cli(args))
        CASES["cli (hypothesis)"] += 1

    run()
    _sentinel_alive(sentinel)


# ----------------------------------------------------------------------------------------------------- hooks
EVENTS = ["PostToolUse", "PreToolUse", "UserPromptSubmit", "SessionStart", "Stop", "PreCompact", "SessionEnd",
          "Notification", "BeforeAgent", "AfterTool"]


def _hook(agent: str, event: str, stdin: bytes, cwd: Path) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([nexus_executable(), "hook", agent, event, "--sync"], input=stdin, capture_output=True,
                          timeout=60, check=False, cwd=cwd)


def _check_hook(proc: subprocess.CompletedProcess[bytes], event: str) -> None:
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert b"Traceback" not in proc.stderr
    answer = json.loads(proc.stdout)
    assert isinstance(answer, dict)
    if event in ("PostToolUse", "PreToolUse", "Notification", "AfterTool"):
        assert answer == {}


def _hook_payloads(cwd: Path) -> list[bytes]:
    base = {"session_id": "hostile", "cwd": str(cwd), "hook_event_name": "PostToolUse", "tool_name": "Bash",
            "tool_input": {"command": "ls"}, "tool_response": "ok"}
    deep = "[" * 3000 + '"bottom"' + "]" * 3000
    return [
        b"", b"null", b"[]", b"42", b'"a string"', b"{", b"}{", b"\xff\xfe\xfd", b"\x00" * 1000, b"{}" * 10_000,
        json.dumps({**base, "tool_response": float("nan")}, allow_nan=True).encode(),
        json.dumps({**base, "tool_input": {"x": float("-inf")}}, allow_nan=True).encode(),
        json.dumps({**base, "tool_name": "T" * 500}).encode(),
        json.dumps({**base, "session_id": "s" * 100_000}).encode(),
        json.dumps({**base, "session_id": {"nested": ["id"]}}).encode(),
        json.dumps({**base, "cwd": "\x00/nonexistent"}).encode(),
        json.dumps({**base, "cwd": 12345}).encode(),
        json.dumps({**base, "transcript_path": "/dev/zero", "hook_event_name": "Stop"}).encode(),
        json.dumps({**base, "transcript_path": "/etc", "hook_event_name": "Stop"}).encode(),
        json.dumps({**base, "tool_response": "\ud800 lone"}).encode(),
        json.dumps({**base, "tool_response": "x" * 3_000_000}).encode(),
        json.dumps(base)[:-1].encode() + b', "deep": ' + deep.encode() + b"}",
        b'{"session_id": "s", "tool_input": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
        json.dumps({**base, "timestamp": 1e308}).encode(), json.dumps({**base, "timestamp": -1}).encode(),
        json.dumps({**base, "timestamp": "not a time"}).encode(),
        json.dumps({**base, "prompt": ["list", "of", {"parts": None}], "hook_event_name": "UserPromptSubmit"}).encode(),
        json.dumps({**base, "tool_input": "{\"json\": \"in a string\"", "toolArgs": "[1,"}).encode(),
        json.dumps({**base, "hook_event_name": None, "event": ["x"]}).encode(),
        json.dumps({k: None for k in base}).encode(),
    ]


def test_hooks_hostile_payloads(app: App, tmp_path: Path) -> None:
    sentinel = _sentinel_id(app)
    app.close()
    for i, payload in enumerate(_hook_payloads(tmp_path)):
        event = EVENTS[i % len(EVENTS)]
        _check_hook(_hook("claude-code", event, payload, tmp_path), event)
        CASES["hooks (handwritten)"] += 1
    _sentinel_alive(sentinel)


@pytest.mark.slow
def test_hooks_generated_payloads(app: App, tmp_path: Path) -> None:
    sentinel = _sentinel_id(app)
    app.close()

    @FEW
    @given(agent=st.sampled_from(["claude-code", "gemini", "codex", "cursor", "copilot", "unknown", "\u202e"]),
           event=st.sampled_from(EVENTS), fields=st.dictionaries(
               st.sampled_from(["session_id", "sessionId", "tool_name", "toolName", "tool_input", "toolArgs",
                                "tool_response", "prompt", "cwd", "hook_event_name", "timestamp", "model", "source",
                                "last_assistant_message", "error", "transcript_path"]), JSON, max_size=8))
    def run(agent: str, event: str, fields: dict[str, Any]) -> None:
        if isinstance(fields.get("transcript_path"), str):
            fields["transcript_path"] = str(tmp_path / "nothing-here.jsonl")
        if isinstance(fields.get("cwd"), str):
            fields["cwd"] = str(tmp_path)
        payload = json.dumps(fields, allow_nan=True).encode("utf-8", "surrogatepass")
        _check_hook(_hook(agent, event, payload, tmp_path), event)
        CASES["hooks (hypothesis)"] += 1

    run()
    _sentinel_alive(sentinel)


# ----------------------------------------------------------------------------------------------------- REST
@pytest.fixture
def live(app: App) -> Iterator[tuple[LiveServer, int]]:
    sentinel = _sentinel_id(app)
    with LiveServer(app) as server:
        yield server, sentinel


def _check_http(response: httpx.Response, server: LiveServer, sentinel: int) -> None:
    assert response.status_code < 500, (response.status_code, response.text[:500])
    assert "Traceback" not in response.text
    if response.status_code >= 400:
        body = response.json()
        assert isinstance(body.get("message"), str) and body["message"], body
    alive = httpx.get(f"{server.url}/api/v1/memories/{sentinel}", timeout=30)
    assert alive.status_code == 200 and alive.json()["content"] == SENTINEL


def _raw_http_cases() -> list[tuple[str, str, dict[str, str], Any]]:
    j = {"content-type": "application/json"}
    deep = "[" * 5000 + "]" * 5000
    return [
        ("POST", "/memories", j, b""), ("POST", "/memories", j, b"{"), ("POST", "/memories", j, b"null"),
        ("POST", "/memories", j, b"[]"), ("POST", "/memories", j, b'"x"'), ("POST", "/memories", j, b"\xff\xfe"),
        ("POST", "/memories", j, b'{"content": NaN}'), ("POST", "/memories", j, b'{"content": "x", "metadata": NaN}'),
        ("POST", "/memories", j, b'{"content": "x", "metadata": {"a": [1, Infinity]}}'),
        ("POST", "/memories", j, ('{"content": "x", "metadata": ' + deep + "}").encode()),
        ("POST", "/memories", j, ('{"content": "x", "metadata": ' + '{"a":' * 50 + "1" + "}" * 50 + "}").encode()),
        ("POST", "/memories", j, b'{"content": "\\ud800 lone"}'), ("POST", "/memories", j, b'{"content": "\\u0000"}'),
        ("POST", "/memories", j, json.dumps({"content": "x", "labels": ["l" * 101]}).encode()),
        ("POST", "/memories", j, json.dumps({"content": "x", "labels": "not a list"}).encode()),
        ("POST", "/memories", j, json.dumps({"content": "x", "category": "nope"}).encode()),
        ("POST", "/memories", j, json.dumps({"content": "x", "agent_type": "bad agent!"}).encode()),
        ("POST", "/memories", j, json.dumps({"content": "x", "extra_field": 1}).encode()),
        ("POST", "/memories", j, json.dumps({"content": "x" * 200_001}).encode()),
        ("POST", "/memories", j, json.dumps({"content": "x", "session_key": "k" * 513}).encode()),
        ("POST", "/memories", {"content-type": "text/plain"}, b"content=x"),
        ("POST", "/memories", j, iter([b'{"content": "', *([b"x" * 65536] * 80), b'"}'])),  # chunked, > 4 MiB
        ("POST", "/memories", j, iter([b'{"content": ', b"NaN}"])),  # chunked, bad JSON
        ("POST", "/memories/search", j, b'{"query": ""}'), ("POST", "/memories/search", j, b'{"query": "x", "limit": 0}'),
        ("POST", "/memories/search", j, b'{"query": "x", "limit": 1e400}'),
        ("POST", "/memories/search", j, b'{"query": "x", "since": "0000-13-45"}'),
        ("POST", "/memories/search", j, b'{"query": "x", "since": "9999-12-31T23:59:59+14:00"}'),
        ("POST", "/memories/search", j, json.dumps({"query": "AND NEAR * \" :"}).encode()),
        ("POST", "/memories/search", j, b'{"query": "x", "mode": "vector"}'),
        ("POST", "/memories/search", j, b'{"query": "x", "threshold": NaN}'),
        ("PUT", "/memories/1", j, b'{"metadata": {"a": NaN}}'), ("PUT", "/memories/1", j, b'{"content": ""}'),
        ("PUT", f"/memories/{2**63}", j, b'{"content": "y"}'), ("PUT", "/memories/424242", j, b'{"content": "y"}'),
        ("GET", "/memories/0", {}, None), ("GET", "/memories/-1", {}, None), ("GET", "/memories/" + "9" * 5000, {}, None),
        ("GET", "/memories/abc", {}, None), ("GET", "/memories?limit=-1", {}, None),
        ("GET", "/memories?offset=" + "9" * 40, {}, None), ("GET", "/memories?since=yesterday", {}, None),
        ("GET", "/memories?label=" + "x" * 20_000, {}, None), ("GET", "/memories?order=random", {}, None),
        ("DELETE", "/memories/424242", {}, None), ("GET", "/memories/1/lineage?x=" + "%ff" * 100, {}, None),
        ("GET", "/nope/" + "%00" * 10, {}, None), ("PATCH", "/memories/1", j, b"{}"),
    ]


def test_rest_bad_input(live: tuple[LiveServer, int]) -> None:
    server, sentinel = live
    with httpx.Client(base_url=server.url + "/api/v1", timeout=60) as client:
        for method, path, headers, body in _raw_http_cases():
            response = client.request(method, path, headers=headers, content=body)
            _check_http(response, server, sentinel)
            CASES["rest (handwritten)"] += 1
    for raw in (b"POST /api/v1/memories HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 99999999999\r\n\r\n{}",
                b"POST /api/v1/memories HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
                b"GET /api/v1/memories HTTP/1.1\r\nHost: evil.example\r\n\r\n"):
        status = _raw_request(server.port, raw)
        assert status is None or 400 <= status < 500, status
        _check_http(httpx.Response(400, json={"message": "raw"}), server, sentinel)
        CASES["rest (raw sockets)"] += 1


def _raw_request(port: int, data: bytes) -> int | None:
    """The status line's code of the answer to raw bytes, or None if the server just closed."""
    import socket

    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(data)
        try:
            sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    first = answer.split(b"\r\n", 1)[0].split()
    return int(first[1]) if len(first) >= 2 and first[1].isdigit() else None


@pytest.mark.slow
def test_rest_generated_bodies(live: tuple[LiveServer, int]) -> None:
    server, sentinel = live
    client = httpx.Client(base_url=server.url + "/api/v1", timeout=60)

    @settings(max_examples=60, deadline=None, derandomize=True, database=None,
              phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
    @given(path=st.sampled_from(["/memories", "/memories/search", "/memories/1"]),
           body=st.one_of(JSON, st.fixed_dictionaries({"content": HOSTILE_TEXT}, optional={
               "metadata": JSON, "labels": JSON, "agent_type": JSON, "session_key": JSON, "query": HOSTILE_TEXT,
               "limit": JSON, "category": JSON})))
    def run(path: str, body: Any) -> None:
        data = json.dumps(body, allow_nan=True).encode("utf-8", "surrogatepass")
        method = "PUT" if path == "/memories/1" else "POST"
        response = client.request(method, path, content=data, headers={"content-type": "application/json"})
        _check_http(response, server, sentinel)
        CASES["rest (hypothesis)"] += 1

    try:
        run()
    finally:
        client.close()


@pytest.mark.slow
def test_rest_schemathesis(live: tuple[LiveServer, int]) -> None:
    import schemathesis
    from hypothesis.errors import Unsatisfiable
    from schemathesis.generation import GenerationMode

    server, sentinel = live
    schema = schemathesis.openapi.from_url(server.url + "/api/v1/openapi.json")
    for operation in [result.ok() for result in schema.get_all_operations()]:
        if operation.method.upper() == "DELETE":
            continue  # would delete the sentinel by guessing its id; DELETE is fuzzed by the other suite
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            @given(case=operation.as_strategy(generation_mode=mode))
            @settings(max_examples=8, deadline=None, derandomize=True, database=None,
                      phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
            def check(case: Any) -> None:
                if case.method.upper() == "PUT" and case.path_parameters.get("memory_id") == sentinel:
                    return
                response = case.call(base_url=server.url, timeout=30)
                _check_http(httpx.Response(response.status_code, content=response.content), server, sentinel)
                CASES["rest (schemathesis)"] += 1

            try:
                check()
            except Unsatisfiable:
                assert mode is GenerationMode.NEGATIVE


# ----------------------------------------------------------------------------------------------------- MCP
def _mcp_tool_cases() -> list[tuple[str, dict[str, Any]]]:
    deep: Any = 1
    for _ in range(40):
        deep = {"d": deep}
    return [
        ("store_memory", {"content": ""}), ("store_memory", {"content": "x", "metadata": {"a": deep}}),
        ("store_memory", {"content": "x", "metadata": {"b": "y" * 150_000}}),
        ("store_memory", {"content": "x", "labels": ["l" * 101]}), ("store_memory", {"content": "x", "labels": "str"}),
        ("store_memory", {"content": "x", "agent_type": "bad agent!"}), ("store_memory", {"content": "\ufffd lone"}),
        ("store_memory", {"content": "x", "category": "nope"}), ("store_memory", {"content": 12}),
        ("store_memory", {}), ("search_memories", {"query": ""}), ("search_memories", {"query": "x", "limit": 10**9}),
        ("search_memories", {"query": "x", "mode": "psychic"}), ("search_memories", {"query": "x" * 3000}),
        ("get_memory", {"memory_id": 0}), ("get_memory", {"memory_id": -5}), ("get_memory", {"memory_id": 10**30}),
        ("get_memory", {"memory_id": "abc"}), ("get_memory", {"memory_id": 424242}),
        ("delete_memory", {"memory_id": 424242}), ("list_memories", {"offset": 10**30}),
        ("list_memories", {"limit": 0}), ("list_memories", {"category": "nope"}),
        ("get_stats", {"agent_type": "\x00"}), ("get_session_digest", {"session_key": ""}),
        ("explain_memory_lineage", {"memory_id": 424242}), ("derive_observations", {"memory_id": 424242}),
        ("build_working_representation", {"agent_type": "nobody", "max_items": 1}),
        ("search_perspective_memories", {"observer": "", "subject": "x"}), ("tool_help", {"tool_name": "nope"}),
        ("tool_schema", {"tool_name": "../../etc"}), ("run_reflective_cycle", {"agent_type": "nobody-here"}),
        ("no_such_tool", {}),
    ]


def _mcp_check(result: Any) -> None:
    if result.is_error:
        text = result.content[0].text if result.content else ""
        assert text and not text.endswith("Error executing tool") and "Traceback" not in text, text


async def _mcp_session(target: Any, sentinel: int, label: str) -> None:
    from mcp import Client

    async with Client(target, read_timeout_seconds=60) as client:
        for name, arguments in _mcp_tool_cases():
            try:
                result = await client.call_tool(name, arguments)
            except Exception as exc:  # the SDK raises for protocol-level errors: they must carry a message
                assert str(exc), name
            else:
                _mcp_check(result)
            CASES[f"mcp {label} (handwritten)"] += 1
        for i, arguments in enumerate(_MCP_GENERATED):
            name = ["store_memory", "search_memories", "list_memories", "get_memory"][i % 4]
            try:
                result = await client.call_tool(name, arguments)
            except Exception as exc:
                assert str(exc), name
            else:
                _mcp_check(result)
            CASES[f"mcp {label} (hypothesis)"] += 1
        alive = await client.call_tool("get_memory", {"memory_id": sentinel})
        assert not alive.is_error and json.loads(alive.content[0].text)["content"] == SENTINEL


_MCP_GENERATED: list[dict[str, Any]] = []


@st.composite
def _tool_arguments(draw: Any) -> dict[str, Any]:
    keys = st.sampled_from(["content", "query", "metadata", "labels", "agent_type", "limit", "offset", "memory_id",
                            "category", "mode", "threshold"])
    from nexus_memory.domain.jsonsafe import sanitize

    args: dict[str, Any] = sanitize(draw(st.dictionaries(keys, JSON, max_size=5)))  # the SDK client cannot send
    return args if _finite(args) else {"content": "nan seen"}                        # surrogates or NaN


def _finite(value: Any) -> bool:
    try:
        json.dumps(value, allow_nan=False)
    except ValueError:
        return False
    return True


@settings(max_examples=40, deadline=None, derandomize=True, database=None, phases=[Phase.explicit, Phase.generate],
          suppress_health_check=list(HealthCheck))
@given(args=_tool_arguments())
def _collect_tool_arguments(args: dict[str, Any]) -> None:
    _MCP_GENERATED.append(args)


def test_mcp_stdio_bad_input(app: App) -> None:
    from mcp import StdioServerParameters

    if not _MCP_GENERATED:
        _collect_tool_arguments()
    sentinel = _sentinel_id(app)
    app.close()
    params = StdioServerParameters(command=nexus_executable(), args=["mcp"], env=dict(os.environ))
    asyncio.run(_mcp_session(params, sentinel, "stdio"))
    _sentinel_alive(sentinel)


def test_mcp_http_bad_input(live: tuple[LiveServer, int]) -> None:
    if not _MCP_GENERATED:
        _collect_tool_arguments()
    server, sentinel = live
    asyncio.run(_mcp_session(server.url + "/mcp", sentinel, "http"))


def test_mcp_stdio_raw_lines(app: App) -> None:
    from tests.security.test_findings import RawMcp

    sentinel = _sentinel_id(app)
    app.close()
    lines = [b"{", b"}", b"[]", b"[{}]", b"null", b"1", b'"s"', b"\xff", b"{}", b'{"jsonrpc": "1.0", "id": 3}',
             b'{"jsonrpc": "2.0", "id": true, "method": "ping"}', b'{"jsonrpc": "2.0", "id": 1.5, "method": "ping"}',
             b'{"jsonrpc": "2.0", "id": [1], "method": "ping"}', b'{"jsonrpc": "2.0", "id": {}, "method": "ping"}',
             b'{"jsonrpc": "2.0", "id": 4, "method": 5}', b'{"jsonrpc": "2.0", "id": 6, "method": "nope/nope"}',
             b'{"jsonrpc": "2.0", "id": 7, "method": "tools/call", "params": "x"}',
             b'{"jsonrpc": "2.0", "id": 8, "method": "tools/call", "params": {"name": "get_memory", '
             b'"arguments": {"memory_id": NaN}}}',
             b'{"jsonrpc": "2.0", "id": 9, "method": "tools/call", "params": {"name": "get_memory", "arguments": '
             + b"[" * 5000 + b"]" * 5000 + b"}}",
             b'{"jsonrpc": "2.0", "id": -9007199254740993, "method": "ping"}']
    mcp = RawMcp()
    try:
        for line in lines:
            answer = mcp.ask(line)
            assert "error" in answer or "result" in answer
            if "error" in answer:
                assert answer["error"]["message"]
            CASES["mcp stdio (raw lines)"] += 1
        alive = mcp.ask(json.dumps({"jsonrpc": "2.0", "id": 99, "method": "tools/call", "params": {
            "name": "get_memory", "arguments": {"memory_id": sentinel}}}).encode())
        assert json.loads(alive["result"]["content"][0]["text"])["content"] == SENTINEL
    finally:
        assert b"Traceback" not in mcp.close()


# ----------------------------------------------------------------------------------------------------- size
def test_the_suite_is_big_enough() -> None:
    """At least 250 cases are declared (generated ones count their max_examples)."""
    declared = (len(CLI_CASES) + 40 + len(_hook_payloads(Path("/tmp"))) + 40 + len(_raw_http_cases()) + 60
                + 2 * (len(_mcp_tool_cases()) + 40) + 20 + 8 * 2 * 6)
    assert declared >= 250, declared
