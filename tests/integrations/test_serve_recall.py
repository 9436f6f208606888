"""Per-prompt recall asks a running `nexus serve` over loopback, and falls back in-process without it."""

from __future__ import annotations

import os
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from nexus_memory.app import build_app
from nexus_memory.config import load_settings
from nexus_memory.integrations import serve_client
from nexus_memory.services.memories import StoreRequest
from tests.conftest import nexus_executable
from tests.integrations.helpers import context_of, hook

pytestmark = pytest.mark.slow
TOKEN = "test-token-0123456789abcdef"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[int, Path]]:
    """A real `nexus serve` (with its embedding model) on a database holding one memory."""
    db = tmp_path / "served.db"
    app = build_app(load_settings(database_path=db), embeddings=False, cognition=False)
    app.memories.store(StoreRequest(content="The nightly backup job writes to bucket s3-archive-7 in Frankfurt",
                                    agent="codex", category="facts"))
    app.close()
    port = free_port()
    # the tests run without a model (conftest); this server loads the packaged one, as `nexus serve` does
    env = {**{k: v for k, v in os.environ.items() if k != "NEXUS_EMBEDDING_BACKEND"}, "NEXUS_API_TOKEN": TOKEN}
    proc = subprocess.Popen([nexus_executable(), "serve", "--db", str(db), "--port", str(port)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    store = load_settings(database_path=db).store_id
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:  # up, and its worker has embedded the memory
        hits = serve_client.search(port, TOKEN, "backup", 5, timeout=0.5, store=store)
        if hits and "cosine" in (hits[0].get("explain") or {}):
            break
        if proc.poll() is not None:
            pytest.fail(f"nexus serve exited: {proc.stderr.read() if proc.stderr else ''}")
        time.sleep(0.3)
    else:
        proc.kill()
        pytest.fail("nexus serve did not answer with a vector hit within 120 s")
    try:
        yield port, db
    finally:
        proc.terminate()
        proc.wait(timeout=20)


PROMPT = "where does the nightly backup job write to?"


def test_recall_comes_from_the_server_of_the_same_store(served: tuple[int, Path],
                                                        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    port, db = served
    monkeypatch.setenv("NEXUS_PORT", str(port))
    monkeypatch.setenv("NEXUS_API_TOKEN", TOKEN)
    monkeypatch.setenv("NEXUS_DATABASE_PATH", str(db))
    out = hook("claude-code", "UserPromptSubmit", {"session_id": "r1", "cwd": str(tmp_path), "prompt": PROMPT})
    assert "s3-archive-7" in context_of(out)
    app = build_app(load_settings(database_path=db), embeddings=False, cognition=False)
    try:
        last = [i for i in app.costs.injections(agent="claude-code") if i.channel != "session"][-1]
    finally:
        app.close()
    assert all("cosine" in why for why in last.reasons.values()), "the hits came from the server (a cosine)"
    monkeypatch.setenv("NEXUS_API_TOKEN", "wrong-token-wrong-token")
    out = hook("claude-code", "UserPromptSubmit", {"session_id": "r2", "cwd": str(tmp_path), "prompt": PROMPT})
    assert "s3-archive-7" in context_of(out), "refused by the server: in-process recall over the same file"


def test_a_server_of_another_store_is_not_asked(served: tuple[int, Path], monkeypatch: pytest.MonkeyPatch,
                                                tmp_path: Path) -> None:
    """A `nexus serve` of another NEXUS_HOME (or a test's) on our port: its memories must not come in."""
    port, db = served
    monkeypatch.setenv("NEXUS_PORT", str(port))
    monkeypatch.setenv("NEXUS_API_TOKEN", TOKEN)
    ours = load_settings().store_id
    assert ours != load_settings(database_path=db).store_id
    assert serve_client.search(port, TOKEN, "backup", 5, store=ours) is None, "the server refuses (409)"
    out = hook("claude-code", "UserPromptSubmit", {"session_id": "r3", "cwd": str(tmp_path), "prompt": PROMPT})
    assert out == {}, "in-process recall over our own, empty store"
    assert serve_client.search(free_port(), None, "x", 3) is None


def test_parse_response_shapes() -> None:
    ok = (b'HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n'
          b'd\r\n{"results": [\r\n3\r\n]}\n\r\n0\r\n\r\n')
    assert serve_client.parse_response(ok) == []
    assert serve_client.parse_response(b"HTTP/1.1 401 Unauthorized\r\n\r\n{}") is None
    assert serve_client.parse_response(b"garbage") is None
    assert serve_client.parse_response(ok, store="00ff") is None, "no X-Nexus-Store: not known to be ours"
    ours = ok.replace(b"\r\n\r\n", b"\r\nX-Nexus-Store: 00ff\r\n\r\n", 1)
    assert serve_client.parse_response(ours, store="00ff") == []
    assert serve_client.parse_response(ours, store="11aa") is None
