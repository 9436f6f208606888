"""The OpenAI-compatible embeddings adapter against a real loopback HTTP server."""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from nexus_memory.embeddings.http import HttpEmbedder
from nexus_memory.errors import InvalidInput, NotAvailable

DIM = 8


def fake_vector(text: str) -> list[float]:
    digest = hashlib.sha256(text.encode()).digest()
    return [b / 255.0 for b in digest[:DIM]]


class EmbeddingsServer(ThreadingHTTPServer):
    """Speaks POST /v1/embeddings like OpenAI; records requests; can be told to fail."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.requests: list[dict[str, Any]] = []
        self.fail_with: int | None = None
        self.shuffle = True

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/v1"


class Handler(BaseHTTPRequestHandler):
    server: EmbeddingsServer

    def log_message(self, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.server.requests.append({"path": self.path, "body": body, "auth": self.headers.get("Authorization")})
        if self.path != "/v1/embeddings":
            return self._send(404, {"error": {"message": "not found"}})
        if self.server.fail_with:
            return self._send(self.server.fail_with, {"error": {"message": "invalid api key"}})
        inputs = body["input"] if isinstance(body["input"], list) else [body["input"]]
        data = [{"object": "embedding", "index": i, "embedding": fake_vector(t)} for i, t in enumerate(inputs)]
        if self.server.shuffle:
            data.reverse()  # the protocol orders by `index`, not by position
        self._send(200, {"object": "list", "model": body["model"], "data": data,
                         "usage": {"prompt_tokens": 1, "total_tokens": 1}})

    def _send(self, status: int, payload: dict[str, Any]) -> None:
        raw = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)


@pytest.fixture
def server() -> Iterator[EmbeddingsServer]:
    srv = EmbeddingsServer()
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()
    thread.join(timeout=5)


def test_batches_keep_input_order_and_send_the_key(server: EmbeddingsServer) -> None:
    emb = HttpEmbedder(server.base_url, "test-embed", api_key="sk-test", batch_size=2)
    texts = ["alpha", "beta", "gamma"]
    vectors = emb.embed(texts)
    assert vectors == [pytest.approx(fake_vector(t)) for t in texts]
    assert [r["body"]["input"] for r in server.requests] == [["alpha", "beta"], ["gamma"]]
    assert {r["auth"] for r in server.requests} == {"Bearer sk-test"}
    assert {r["body"]["model"] for r in server.requests} == {"test-embed"}
    assert emb.model_id == "test-embed" and emb.dimension == DIM


def test_no_key_no_authorization_header(server: EmbeddingsServer) -> None:
    HttpEmbedder(server.base_url + "/", "m").embed(["x"])
    assert server.requests[0]["auth"] is None and server.requests[0]["path"] == "/v1/embeddings"


def test_http_errors_become_clear_messages(server: EmbeddingsServer) -> None:
    server.fail_with = 401
    with pytest.raises(NotAvailable, match="HTTP 401: invalid api key") as info:
        HttpEmbedder(server.base_url, "m").embed(["x"])
    assert "API key" in (info.value.hint or "")


def test_wrong_dimension_is_reported(server: EmbeddingsServer) -> None:
    with pytest.raises(NotAvailable, match="expected 384"):
        HttpEmbedder(server.base_url, "m", dimension=384).embed(["x"])


def test_unreachable_endpoint(server: EmbeddingsServer) -> None:
    port = server.server_address[1]
    server.shutdown()
    server.server_close()
    with pytest.raises(NotAvailable, match="cannot reach the embedding endpoint"):
        HttpEmbedder(f"http://127.0.0.1:{port}/v1", "m", timeout=2).embed(["x"])


def test_bad_url_is_rejected_up_front() -> None:
    with pytest.raises(InvalidInput, match="not an http"):
        HttpEmbedder("localhost:8000", "m")


def test_app_uses_the_http_backend_for_store_and_search(server: EmbeddingsServer,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    from nexus_memory.app import build_app
    from nexus_memory.config import load_settings
    from nexus_memory.domain.enums import SearchMode
    from nexus_memory.services.memories import StoreRequest
    from nexus_memory.services.search import SearchQuery

    monkeypatch.setenv("NEXUS_EMBEDDING_BACKEND", "http")
    monkeypatch.setenv("NEXUS_EMBEDDING_BASE_URL", server.base_url)
    monkeypatch.setenv("NEXUS_EMBEDDING_MODEL", "loopback-embed")
    monkeypatch.setenv("NEXUS_EMBEDDING_API_KEY_ENV", "NEXUS_TEST_EMBED_KEY")
    monkeypatch.setenv("NEXUS_TEST_EMBED_KEY", "sk-loop")
    app = build_app(load_settings())
    try:
        m = app.memories.store(StoreRequest(content="vectors over http")).memory
        assert app.store.vector_counts() == {"loopback-embed": 1}  # type: ignore[attr-defined]
        outcome = app.search.run(SearchQuery("vectors over http", mode=SearchMode.VECTOR))
        assert outcome.hits[0].memory.id == m.id
        assert outcome.hits[0].components["cosine"] == pytest.approx(1.0, abs=1e-5)
        assert server.requests[0]["auth"] == "Bearer sk-loop"
    finally:
        app.close()


def test_hybrid_falls_back_to_bm25_when_the_endpoint_goes_down(server: EmbeddingsServer,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    from nexus_memory.app import build_app
    from nexus_memory.config import load_settings
    from nexus_memory.domain.enums import SearchMode
    from nexus_memory.services.memories import StoreRequest
    from nexus_memory.services.search import SearchQuery

    monkeypatch.setenv("NEXUS_EMBEDDING_BACKEND", "http")
    monkeypatch.setenv("NEXUS_EMBEDDING_BASE_URL", server.base_url)
    monkeypatch.setenv("NEXUS_EMBEDDING_MODEL", "loopback-embed")
    monkeypatch.setenv("NEXUS_EMBEDDING_TIMEOUT_SECS", "2")
    app = build_app(load_settings())
    try:
        app.memories.store(StoreRequest(content="deploys happen on tuesdays"))
        server.fail_with = 503
        outcome = app.search.run(SearchQuery("deploys"))
        assert outcome.mode is SearchMode.BM25 and "HTTP 503" in (outcome.note or "")
        assert [h.memory.content for h in outcome.hits] == ["deploys happen on tuesdays"]
        posts = len(server.requests)
        assert posts == 2  # the store's embedding and one query attempt, not a retry per stage
    finally:
        app.close()
