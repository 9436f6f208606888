"""Loopback by default, a token beyond it, exact browser origins, and DNS-rebinding protection."""

from __future__ import annotations

import json

import httpx
import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from nexus_memory.app import App
from nexus_memory.http.security import SecurityPolicy, is_loopback
from tests.servekit import LiveServer

TOKEN = "test-token-abc123"


def test_every_protected_surface_needs_the_token(app: App) -> None:
    with LiveServer(app, token=TOKEN) as server:
        for method, path in (("GET", "/api/v1/health"), ("GET", "/api/v1/memories"),
                             ("POST", "/api/v1/memories/search"), ("GET", "/api/v1/openapi.json"),
                             ("POST", "/mcp")):
            r = httpx.request(method, server.url + path, json={})
            assert r.status_code == 401, path
            assert r.headers["www-authenticate"].startswith("Bearer")
            assert "NEXUS_API_TOKEN" in r.json()["hint"]
        wrong = httpx.get(server.url + "/api/v1/health", headers={"authorization": "Bearer nope"})
        assert wrong.status_code == 401
        ok = httpx.get(server.url + "/api/v1/health", headers={"authorization": f"Bearer {TOKEN}"})
        assert ok.status_code == 200
        # The dashboard page itself is public; it asks for the token and sends it.
        assert httpx.get(server.url + "/").status_code == 200

        ws_url = server.url.replace("http", "ws") + "/ws"
        with pytest.raises(InvalidStatus) as denied:
            connect(ws_url, open_timeout=5).close()
        assert denied.value.response.status_code == 401
        with connect(ws_url, additional_headers={"Authorization": f"Bearer {TOKEN}"}, open_timeout=5) as ws:
            assert json.loads(ws.recv(timeout=5))["type"] == "hello"
        with connect(ws_url, subprotocols=["nexus-token", TOKEN], open_timeout=5) as ws:  # type: ignore[list-item]
            assert ws.subprotocol == "nexus-token"
            assert json.loads(ws.recv(timeout=5))["type"] == "hello"


def test_browser_origins_must_match_exactly(app: App) -> None:
    with LiveServer(app, cors_origins="http://localhost:3000") as server:
        api = server.url + "/api/v1/health"
        assert httpx.get(api, headers={"origin": "http://evil.example"}).status_code == 403
        assert httpx.get(api, headers={"origin": "http://localhost:3000.evil.example"}).status_code == 403
        same = httpx.get(api, headers={"origin": server.url})
        assert same.status_code == 200
        allowed = httpx.get(api, headers={"origin": "http://localhost:3000"})
        assert allowed.headers["access-control-allow-origin"] == "http://localhost:3000"
        preflight = httpx.options(api, headers={"origin": "http://localhost:3000",
                                                "access-control-request-method": "POST"})
        assert preflight.status_code == 200
        assert preflight.headers["access-control-allow-origin"] == "http://localhost:3000"
        assert "*" not in preflight.headers.get("access-control-allow-origin", "")
        ws_url = server.url.replace("http", "ws") + "/ws"
        with pytest.raises(InvalidStatus) as denied:
            connect(ws_url, origin="http://evil.example", open_timeout=5).close()  # type: ignore[arg-type]
        assert denied.value.response.status_code == 403


def test_oversized_bodies_are_refused(server: LiveServer) -> None:
    r = httpx.post(server.url + "/api/v1/memories", content=b"x" * (5 * 1024 * 1024),
                   headers={"content-type": "application/json"})
    assert r.status_code == 413 and r.json()["error"] == "too_large"


def test_dns_rebinding_is_refused_on_loopback(server: LiveServer) -> None:
    r = httpx.get(server.url + "/api/v1/health", headers={"host": "attacker.example:8768"})
    assert r.status_code == 403 and r.json()["error"] == "forbidden_host"
    assert httpx.get(server.url + "/api/v1/health", headers={"host": f"localhost:{server.port}"}).status_code == 200


def test_policy_rules() -> None:
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.4")
    policy = SecurityPolicy(host="0.0.0.0", port=9000, token="t")
    assert policy.host_allowed("nexus.lan:9000")  # beyond loopback the token guards instead
    assert policy.origin_allowed("http://127.0.0.1:9000") and not policy.origin_allowed("http://127.0.0.1:9001")
    assert policy.token_ok({"authorization": "Bearer t"}) and not policy.token_ok({})
