"""/api/v1/cognition on a real server: digests, representation, dream, overview."""

from __future__ import annotations

import httpx

from nexus_memory.app import App
from nexus_memory.services.memories import StoreRequest


def test_dream_digests_and_representation(app: App, client: httpx.Client) -> None:
    for text in ("We ship on Tuesdays", "Releases need a changelog entry", "The API lives under /api/v1"):
        app.memories.store(StoreRequest(content=text, agent="codex", session_key="h1"))
    r = client.post("/cognition/dream", json={"agent_type": "codex", "session_key": "h1"})
    assert r.status_code == 200 and r.json()["processed_jobs"] >= 1 and r.json()["failed"] == 0
    d = client.get("/cognition/digests", params={"agent_type": "codex", "session_key": "h1"}).json()
    assert "ship on Tuesdays" in d["short"]["content"]
    rep = client.get("/cognition/representation", params={"agent_type": "codex", "query": "changelog"}).json()
    assert rep["limits"]["recent"] == 7 and any("changelog" in i["content"] for i in rep["semantic"] + rep["recent"])
    assert all("reasons" in i for i in rep["recent"])
    over = client.get("/cognition/overview").json()
    assert over["jobs"]["completed"] >= 1 and over["llm"]["configured"] is False


def test_unknown_agent_is_404_and_bad_input_422(client: httpx.Client) -> None:
    r = client.get("/cognition/digests", params={"agent_type": "nobody"})
    assert r.status_code == 404 and "nobody" in r.text
    assert client.post("/cognition/dream", json={"agent_type": "nobody"}).status_code == 404
    assert client.get("/cognition/representation", params={"agent_type": "x", "max_items": 1}).status_code == 422
