"""Issue 15: one regression test per finding not covered by test_hooks_hostile.py, on the real surfaces."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from nexus_memory.app import App, build_app
from nexus_memory.config import load_settings
from nexus_memory.errors import DatabaseCorrupt, InvalidInput
from nexus_memory.services.memories import StoreRequest
from tests.conftest import nexus_executable, run_nexus
from tests.servekit import LiveServer, free_port


def _err_line(proc: subprocess.CompletedProcess[str]) -> str:
    assert "Traceback" not in proc.stderr and "internal error" not in proc.stderr, proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.startswith("nexus:")]
    assert len(lines) == 1, proc.stderr
    return lines[0]


# 2: NaN / Infinity are bad input, never "corrupt database" -----------------------------------------------
def test_nan_metadata_is_invalid_input_on_every_surface(app: App) -> None:
    proc = run_nexus("store", "-m", "x", "--metadata-json", '{"a": NaN}')
    assert proc.returncode == 1 and "invalid metadata: NaN is not JSON" in _err_line(proc)
    with pytest.raises(InvalidInput, match="Infinity is not JSON"):
        app.memories.store(StoreRequest(content="y", metadata={"a": float("inf")}))
    with LiveServer(app) as server:
        body = '{"content": "z", "metadata": {"a": Infinity}}'
        r = httpx.post(server.url + "/api/v1/memories", content=body, headers={"content-type": "application/json"})
        assert r.status_code == 422 and r.json()["field"] == "metadata"
        assert "Infinity is not JSON" in r.json()["message"]
    assert app.store.check_integrity() == "ok"


def test_storage_maps_only_real_damage_to_database_corrupt(tmp_path: Path) -> None:
    from nexus_memory.storage.sqlite.connection import map_error

    bad_json = sqlite3.connect(":memory:")
    with pytest.raises(sqlite3.Error) as exc:
        bad_json.execute("SELECT json_extract('{\"a\": NaN}', '$.a')")
    assert isinstance(map_error(tmp_path / "x.db", exc.value), InvalidInput)
    broken = tmp_path / "broken.db"
    broken.write_bytes(b"not a database at all" * 200)
    proc = run_nexus("list", "--db", str(broken))
    assert proc.returncode == 1 and "is not a usable SQLite file" in _err_line(proc)
    with pytest.raises(DatabaseCorrupt):
        from nexus_memory.storage.sqlite.store import SQLiteStore

        SQLiteStore(broken)


# 6: import beside other writers ----------------------------------------------------------------------------
def test_import_runs_beside_another_writer(tmp_path: Path) -> None:
    src = tmp_path / "src.db"
    proc = run_nexus("--version")
    assert proc.returncode == 0
    app = build_app(load_settings(database_path=str(src)))
    try:
        app.memories.store_many([StoreRequest(content=f"imported note {i}") for i in range(3000)])
    finally:
        app.close()
    export = tmp_path / "e.jsonl"
    assert run_nexus("export", "--db", str(src), "-o", str(export)).returncode == 0
    dst = tmp_path / "dst.db"
    assert run_nexus("store", "--db", str(dst), "-m", "first").returncode == 0
    writer = subprocess.Popen([sys.executable, "-c", (
        "import sys\nfrom nexus_memory.app import build_app\nfrom nexus_memory.config import load_settings\n"
        "from nexus_memory.services.memories import StoreRequest\n"
        f"app = build_app(load_settings(database_path={str(dst)!r}))\n"
        "for i in range(400): app.memories.store(StoreRequest(content=f'writer note {i}'))\napp.close()\n")])
    proc = run_nexus("import", "--db", str(dst), str(export), "--batch-size", "50", "--quiet", timeout=300)
    writer.wait(120)
    assert writer.returncode == 0
    assert proc.returncode == 0, proc.stderr
    check = build_app(load_settings(database_path=str(dst)))
    try:
        contents = {m.content for m in check.store.list_memories(__import__("nexus_memory").MemoryFilter(),
                                                                   limit=10_000)}
    finally:
        check.close()
    assert {f"imported note {i}" for i in range(3000)} <= contents
    assert {f"writer note {i}" for i in range(400)} <= contents and "first" in contents


# 7: body caps hold for chunked requests; metadata is capped on every surface -----------------------------
def test_chunked_bodies_and_large_metadata_are_refused(app: App) -> None:
    with LiveServer(app) as server:
        def chunks() -> Any:
            piece = b'{"content": "' + b"x" * 1024
            yield piece
            for _ in range(6 * 1024):
                yield b"x" * 1024
            yield b'"}'

        r = httpx.post(server.url + "/api/v1/memories", content=chunks(), headers={"content-type": "application/json"},
                       timeout=60)
        assert r.status_code == 413 and r.json()["error"] == "too_large"
        small = httpx.post(server.url + "/api/v1/memories", content=iter([b'{"content": "chunked ', b'ok"}']),
                           headers={"content-type": "application/json"})
        assert small.status_code == 201 and small.json()["memory"]["content"] == "chunked ok"
        big_meta = {"content": "m", "metadata": {"blob": "y" * 200_000}}
        r = httpx.post(server.url + "/api/v1/memories", json=big_meta)
        assert r.status_code == 422 and r.json()["field"] == "metadata"
    proc = run_nexus("store", "-m", "m", "--metadata-json", json.dumps({"blob": "y" * 110_000}))
    assert proc.returncode == 1 and "characters of JSON" in _err_line(proc)

    async def scenario(client: Any) -> None:
        result = await client.call_tool("store_memory", {"content": "m", "metadata": {"blob": "y" * 200_000}})
        assert result.is_error and "invalid metadata" in result.content[0].text

    _mcp_stdio(scenario)
    assert [m.content for m in app.memories.list_memories()] == ["chunked ok"]


# 9: a non-ASCII bearer token is a 401, on HTTP and WebSocket ------------------------------------------------
def test_non_ascii_tokens_are_refused_not_crashed(app: App) -> None:
    import websockets.sync.client

    with LiveServer(app, token="s3cret-token") as server:
        r = httpx.get(server.url + "/api/v1/memories", headers={"Authorization": "Bearer ключ".encode()})
        assert r.status_code == 401 and r.json()["error"] == "unauthorized"
        ok = httpx.get(server.url + "/api/v1/memories", headers={"Authorization": "Bearer s3cret-token"})
        assert ok.status_code == 200
        with pytest.raises(websockets.exceptions.InvalidStatus) as refused:
            websockets.sync.client.connect(server.url.replace("http", "ws") + "/ws",
                                           additional_headers={"Authorization": "Bearer ключ".encode().decode("latin-1")},
                                           open_timeout=10)
        assert refused.value.response.status_code == 401


# 10: MCP stdio answers malformed, deep and huge-id lines ------------------------------------------------------
class RawMcp:
    """`nexus mcp` driven line by line (the SDK client would refuse to send what this sends)."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen([nexus_executable(), "mcp"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE)
        self.send(json.dumps({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}}).encode())
        assert "result" in self.recv()
        self.send(json.dumps({"jsonrpc": "2.0", "method": "notifications/initialized"}).encode())

    def send(self, line: bytes) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(line + b"\n")
        self.proc.stdin.flush()

    def recv(self, timeout: float = 30) -> dict[str, Any]:
        import select

        assert self.proc.stdout is not None
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        assert ready, "no answer: the client would hang"
        answer: dict[str, Any] = json.loads(self.proc.stdout.readline())
        return answer

    def ask(self, line: bytes) -> dict[str, Any]:
        self.send(line)
        return self.recv()

    def close(self) -> bytes:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        self.proc.wait(30)
        assert self.proc.stderr is not None
        return self.proc.stderr.read()


def test_mcp_stdio_answers_every_bad_line() -> None:
    deep = {"jsonrpc": "2.0", "id": 5, "method": "tools/call",
            "params": {"name": "get_memory", "arguments": {"memory_id": json.loads("[" * 300 + "]" * 300)}}}
    lines = [b"{not json", b"\xff\xfe", json.dumps(deep).encode(),
             json.dumps({"jsonrpc": "2.0", "id": 10**40, "method": "tools/list"}).encode(),
             json.dumps({"jsonrpc": "2.0", "id": "i" * 10_000, "method": "tools/list"}).encode(),
             json.dumps({"jsonrpc": "2.0", "id": 8}).encode(), b"[1, 2]",
             json.dumps({"jsonrpc": "2.0", "id": 7, "method": "tools/call",
                         "params": {"name": "get_memory", "arguments": {"memory_id": 10**30}}}).encode(),
             json.dumps({"jsonrpc": "2.0", "id": 9, "method": "tools/list"}).encode()]
    mcp = RawMcp()
    try:
        answers = [mcp.ask(line) for line in lines]
    finally:
        err = mcp.close()
    assert b"Traceback" not in err
    codes = [a.get("error", {}).get("code") for a in answers[:7]]
    assert codes == [-32700, -32700, -32600, -32600, -32600, -32600, -32600]
    assert answers[2]["id"] == 5 and answers[5]["id"] == 8 and all(a["error"]["message"] for a in answers[:7])
    get_huge = answers[7]
    assert get_huge["id"] == 7 and get_huge["result"]["isError"]
    assert get_huge["result"]["content"][0]["text"] != "Error executing tool get_memory"
    assert "tools" in answers[8]["result"]


def _mcp_stdio(scenario: Any) -> None:
    from mcp import Client, StdioServerParameters

    async def go() -> None:
        params = StdioServerParameters(command=nexus_executable(), args=["mcp"], env=dict(os.environ))
        async with Client(params, read_timeout_seconds=30) as client:
            await scenario(client)

    asyncio.run(go())


# 4: serve stops cleanly on SIGTERM and SIGINT at any moment ---------------------------------------------------
def _children(pid: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True, check=False).stdout
    return [int(x) for x in out.split()]


@pytest.mark.slow
@pytest.mark.parametrize(("sig", "delay"), [(signal.SIGTERM, 0.15), (signal.SIGINT, 0.4), (signal.SIGTERM, 1.2),
                                            (signal.SIGINT, 2.5), (signal.SIGTERM, 5.0)])
def test_serve_stops_cleanly_at_any_moment(sig: int, delay: float) -> None:
    env = {**os.environ, "NEXUS_EMBEDDING_BACKEND": "onnx"}  # the model warm-up thread is what aborted
    proc = subprocess.Popen([nexus_executable(), "serve", "--port", str(free_port())], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    time.sleep(delay)
    workers = _children(proc.pid)
    proc.send_signal(sig)
    sent = time.monotonic()
    _out, err = proc.communicate(timeout=90)
    assert proc.returncode == 0, err.decode()[-2000:]
    assert b"terminate called" not in err and b"Traceback" not in err
    for pid in workers:
        while os.path.exists(f"/proc/{pid}") and time.monotonic() - sent < 10:
            time.sleep(0.02)
        assert not os.path.exists(f"/proc/{pid}")


# 12: files 0600, folders 0700 ----------------------------------------------------------------------------------
def test_everything_nexus_writes_is_private(nexus_home: Path, tmp_path: Path) -> None:
    assert run_nexus("store", "-m", "a private note", "-l", "x").returncode == 0
    assert run_nexus("export", "-o", str(nexus_home / "export.jsonl")).returncode == 0
    payload = json.dumps({"session_id": "p", "cwd": str(tmp_path), "hook_event_name": "PostToolUse",
                          "tool_name": "Bash", "tool_input": {"command": "ls"}, "tool_response": "ok"})
    assert run_nexus("hook", "claude-code", "PostToolUse", "--sync", input=payload).returncode == 0
    db = sqlite3.connect(nexus_home / "data" / "nexus.db")  # keep a WAL around while we look
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("CREATE TABLE IF NOT EXISTS t(x)")
    try:
        seen = {p: p.stat().st_mode & 0o777 for p in [nexus_home, *nexus_home.rglob("*")]}
    finally:
        db.close()
    assert any(p.name.endswith("-wal") for p in seen)
    loose = {str(p): oct(m) for p, m in seen.items() if m & 0o077}
    assert not loose


def test_an_existing_world_readable_database_is_tightened(tmp_path: Path) -> None:
    db = tmp_path / "open.db"
    sqlite3.connect(db).close()
    os.chmod(db, 0o644)
    assert run_nexus("store", "--db", str(db), "-m", "x").returncode == 0
    assert db.stat().st_mode & 0o777 == 0o600
    # only the database file itself: a folder passed as --db keeps its mode (as root, `--db /` once made
    # the root folder 0600)
    folder = tmp_path / "shared"
    folder.mkdir(mode=0o755)
    assert run_nexus("list", "--db", str(folder)).returncode == 1
    assert run_nexus("store", "-m", "x", "--db", str(folder)).returncode == 1
    assert folder.stat().st_mode & 0o777 == 0o755


# 13: one-line CLI errors --------------------------------------------------------------------------------------
@pytest.mark.parametrize("args", [
    ["list", "--offset", "99999999999999999999"],
    ["get", "99999999999999999999"],
    ["list", "--since", "999999999d"],
    ["store", "-m", "x", "--metadata-json", '{"a":' * 900 + "1" + "}" * 900],
    ["store", "-m", "x", "--metadata-json", '{"a":' * 5000 + "1" + "}" * 5000],
    ["export", "-o", "/tmp"],
    ["export", "-o", "/nonexistent-folder-i15/x.jsonl"],
    ["export", "-o", "/dev/full"],
])
def test_absurd_cli_input_is_one_line(args: list[str]) -> None:
    assert run_nexus("store", "-m", "kept").returncode == 0
    proc = run_nexus(*args)
    assert proc.returncode == 1
    line = _err_line(proc)
    assert "(" in line  # every message carries what to do next
    assert "kept" in run_nexus("list").stdout


def test_invalid_utf8_argument_and_stdin() -> None:
    proc = subprocess.run([nexus_executable(), "store", "-m", b"caf\xe9"], capture_output=True, text=True,
                          check=False, timeout=60)
    assert proc.returncode == 2 and "not valid UTF-8" in _err_line(proc)
    proc = subprocess.run([nexus_executable(), "store"], input=b"caf\xe9 au lait", capture_output=True, check=False,
                          timeout=60)
    assert proc.returncode == 1 and b"not UTF-8 text" in proc.stderr and b"Traceback" not in proc.stderr
    proc = run_nexus("get", "9" * 5000)
    assert proc.returncode == 2 and len(proc.stderr) < 1000 and "Traceback" not in proc.stderr


# 14: a read command on a missing database creates nothing -------------------------------------------------------
def test_read_commands_on_a_missing_database_create_nothing(tmp_path: Path) -> None:
    target = tmp_path / "no" / "such" / "x.db"
    for args in (["list"], ["search", "anything"], ["get", "1"], ["stats"], ["export"]):
        proc = run_nexus(*args, "--db", str(target))
        assert proc.returncode == 1 and "no database at" in _err_line(proc)
    assert not (tmp_path / "no").exists()


# 15: stale conversion files are cleaned at the next start ------------------------------------------------------
def test_stale_int8_conversion_files_are_removed(nexus_home: Path) -> None:
    from nexus_memory.embeddings import int8_kernel

    models = nexus_home / "state" / "models"
    models.mkdir(parents=True)
    stale = models / ".convert-abc123.onnx"
    stale.write_bytes(b"\0" * 1024)
    (models / ".record-xyz").write_text("{")
    keep = models / "minilm-int8-k.json"
    keep.write_text("{}")
    assert int8_kernel.clean_stale(models) == 2
    assert not stale.exists() and keep.exists()
    # a conversion in progress (its lock held) is left alone
    stale.write_bytes(b"\0")
    with int8_kernel._locked(models / ".prepare.lock", 0.0) as got:
        assert got
        assert subprocess.run([sys.executable, "-c", (
            "from pathlib import Path\nfrom nexus_memory.embeddings.int8_kernel import clean_stale\n"
            f"print(clean_stale(Path({str(models)!r})))")], capture_output=True, text=True, check=True,
            timeout=60).stdout.strip() == "0"
    assert stale.exists()


def test_serve_start_removes_a_killed_conversion(nexus_home: Path) -> None:
    models = nexus_home / "state" / "models"
    models.mkdir(parents=True)
    stale = models / ".convert-killed.onnx"
    stale.write_bytes(b"\0" * 4096)
    env = {**os.environ, "NEXUS_EMBEDDING_BACKEND": "onnx"}
    proc = run_nexus("embeddings", "status", env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    probe = subprocess.run([sys.executable, "-c", (
        "from nexus_memory.app import build_app\nfrom nexus_memory.config import load_settings\n"
        "app = build_app(load_settings())\napp.embeddings.embedder.load()\napp.close()")],
        env=env, capture_output=True, text=True, timeout=300, check=False)
    assert probe.returncode == 0, probe.stderr[-2000:]
    assert not stale.exists()

