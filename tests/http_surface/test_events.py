"""WebSocket /ws: every connected client receives memory and session events as they happen."""

from __future__ import annotations

import json
from typing import Any

import httpx
from websockets.sync.client import ClientConnection, connect

from nexus_memory.app import App
from tests.servekit import LiveServer


def next_event(ws: ClientConnection, kind: str) -> dict[str, Any]:
    while True:
        message = json.loads(ws.recv(timeout=10))
        if message["type"] == kind:
            return message


def test_events_reach_every_client(server: LiveServer, app: App) -> None:
    ws_url = server.url.replace("http", "ws") + "/ws"
    api = server.url + "/api/v1"
    with connect(ws_url, open_timeout=5) as one, connect(ws_url, open_timeout=5) as two:
        for ws in (one, two):
            assert json.loads(ws.recv(timeout=5))["type"] == "hello"
        mid = httpx.post(api + "/memories", json={"content": "live event", "agent_type": "codex"}).json()["id"]
        for ws in (one, two):
            created = next_event(ws, "memory.created")
            assert created["data"]["memory"]["id"] == mid and created["at"].endswith("Z")
        httpx.put(f"{api}/memories/{mid}", json={"labels": ["x"]})
        assert next_event(one, "memory.updated")["data"]["memory"]["labels"] == ["x"]
        httpx.delete(f"{api}/memories/{mid}")
        assert next_event(one, "memory.deleted")["data"] == {"id": mid, "agent_type": "codex"}
        # Events from any service in the process, not only from HTTP requests.
        app.sessions.start("gemini", "s-live", None)
        assert next_event(two, "session.started")["data"]["session_key"]
        app.sessions.end("gemini", "s-live", None)
        assert next_event(two, "session.ended")["data"]["reason"] == "session-ended"
        one.send(json.dumps({"type": "ping"}))
        assert next_event(one, "pong")["type"] == "pong"
