"""The same REST API, events and MCP endpoint on the PostgreSQL backend (the team setup)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator

import httpx
import pytest
from websockets.sync.client import connect

from nexus_memory.app import App, build_app
from nexus_memory.config import load_settings
from tests.servekit import LiveServer

pytestmark = pytest.mark.postgres


@pytest.fixture
def pg_app(pg_url: str) -> Iterator[App]:
    application = build_app(load_settings(database_url=pg_url))
    yield application
    application.close()


def test_rest_events_and_mcp_on_postgres(pg_app: App) -> None:
    with LiveServer(pg_app) as server, httpx.Client(base_url=server.url + "/api/v1", timeout=30) as client:
        ws = connect(server.url.replace("http", "ws") + "/ws", open_timeout=5)
        try:
            assert json.loads(ws.recv(timeout=5))["type"] == "hello"
            created = client.post("/memories", json={"content": "the staging database is postgres 15",
                                                      "agent_type": "codex", "labels": ["db"]})
            assert created.status_code == 201
            mid = created.json()["id"]
            event = json.loads(ws.recv(timeout=10))
            assert event["type"] == "memory.created" and event["data"]["memory"]["id"] == mid
        finally:
            ws.close()
        assert client.post("/memories", json={"content": "The staging database is Postgres 15",
                                              "agent_type": "codex"}).json()["merged"] is True
        hits = client.post("/memories/search", json={"query": "staging database", "labels": ["db"]}).json()
        assert [h["memory"]["id"] for h in hits["results"]] == [mid]
        page = client.get("/memories", params={"agent_type": "codex", "limit": 1}).json()
        assert page["total"] == 1 and page["next_offset"] is None
        assert client.put(f"/memories/{mid}", json={"category": "facts"}).json()["category"] == "facts"
        assert client.get("/stats/charts").json()["per_agent"] == {"codex": 1}
        pg_app.sessions.start("codex", "pg-session", None)
        pg_app.sessions.end("codex", "pg-session", None)
        sessions = client.get("/sessions").json()["sessions"]
        assert sessions[0]["session_key"] and sessions[0]["ended_at"]
        assert "counts" in client.get("/jobs").json()
        assert client.get(f"/memories/{mid}/lineage").json()["memory"]["id"] == mid

        async def mcp() -> None:
            from mcp import Client

            async with Client(server.url + "/mcp", read_timeout_seconds=30) as c:
                result = await c.call_tool("search_memories", {"query": "staging database"})
                assert not result.is_error
                assert json.loads(result.content[0].text)["results"][0]["memory"]["id"] == mid

        asyncio.run(mcp())
        assert client.delete(f"/memories/{mid}").json() == {"deleted": True, "id": mid}
        assert client.get(f"/memories/{mid}").status_code == 404
