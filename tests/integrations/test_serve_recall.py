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
def served(tmp_path: Path) -> Iterator[int]:
    """A real `nexus serve` on its own database holding one memory the hook's database lacks."""
    db = tmp_path / "served.db"
    app = build_app(load_settings(database_path=db), embeddings=False, cognition=False)
    app.memories.store(StoreRequest(content="The nightly backup job writes to bucket s3-archive-7 in Frankfurt",
                                    agent="codex", category="facts"))
    app.close()
    port = free_port()
    env = {**os.environ, "NEXUS_API_TOKEN": TOKEN, "NEXUS_EMBEDDING_BACKEND": "none"}
    proc = subprocess.Popen([nexus_executable(), "serve", "--db", str(db), "--port", str(port)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if serve_client.search(port, TOKEN, "backup", 5, timeout=0.5) is not None:
            break
        if proc.poll() is not None:
            pytest.fail(f"nexus serve exited: {proc.stderr.read() if proc.stderr else ''}")
        time.sleep(0.2)
    else:
        proc.kill()
        pytest.fail("nexus serve did not answer within 60 s")
    try:
        yield port
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def test_recall_comes_from_serve_then_falls_back(served: int, monkeypatch: pytest.MonkeyPatch,
                                                   tmp_path: Path) -> None:
    monkeypatch.setenv("NEXUS_PORT", str(served))
    monkeypatch.setenv("NEXUS_API_TOKEN", TOKEN)
    prompt = {"session_id": "r1", "cwd": str(tmp_path), "prompt": "where does the nightly backup job write to?"}
    out = hook("claude-code", "UserPromptSubmit", prompt)
    assert "s3-archive-7" in context_of(out), "the served database answered (ours does not hold it)"
    monkeypatch.setenv("NEXUS_API_TOKEN", "wrong-token-wrong-token")
    assert hook("claude-code", "UserPromptSubmit", {**prompt, "session_id": "r2"}) == {}, \
        "refused by the server: in-process recall over our own (empty) database"
    assert serve_client.search(free_port(), None, "x", 3) is None


def test_parse_response_shapes() -> None:
    ok = (b'HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n'
          b'd\r\n{"results": [\r\n3\r\n]}\n\r\n0\r\n\r\n')
    assert serve_client.parse_response(ok) == []
    assert serve_client.parse_response(b"HTTP/1.1 401 Unauthorized\r\n\r\n{}") is None
    assert serve_client.parse_response(b"garbage") is None
