"""The REST API on a real uvicorn server: CRUD, search with filters, pagination, errors, views."""

from __future__ import annotations

import httpx

from nexus_memory.app import App
from nexus_memory.domain.models import Evidence
from tests.servekit import LiveServer


def store(client: httpx.Client, content: str, **fields: object) -> dict:
    r = client.post("/memories", json={"content": content, **fields})
    assert r.status_code == 201, r.text
    return r.json()


def test_crud_round_trip_with_mcp_field_names(client: httpx.Client) -> None:
    created = store(client, "Use ruff for linting", agent_type="Claude", category="preferences",
                    labels=["tooling"], metadata={"source": "chat"}, memory_lane_type="decision")
    mid = created["id"]
    assert created["created"] and not created["merged"]
    got = client.get(f"/memories/{mid}").json()
    assert (got["agent_type"], got["category"], got["labels"], got["memory_lane_type"]) == (
        "claude-code", "preferences", ["tooling"], "decision")
    assert got["metadata"]["source"] == "chat" and got["cognitive_level"] == "explicit"

    merged = store(client, "use ruff for linting", agent_type="claude-code")
    assert merged["id"] == mid and merged["merged"]

    put = client.put(f"/memories/{mid}", json={"content": "Use ruff and mypy", "labels": ["tooling", "ci"]})
    assert put.status_code == 200 and put.json()["content"] == "Use ruff and mypy"
    archived = client.put(f"/memories/{mid}", json={"is_archived": True, "is_active": False}).json()
    assert archived["is_archived"] is True
    assert client.get("/memories").json()["total"] == 0
    assert client.get("/memories", params={"include_archived": True}).json()["total"] == 1

    deleted = client.delete(f"/memories/{mid}")
    assert deleted.json() == {"deleted": True, "id": mid}
    gone = client.get(f"/memories/{mid}")
    assert gone.status_code == 404
    assert gone.json()["hint"] == "find ids with GET /api/v1/memories or POST /api/v1/memories/search"


def test_offset_pagination_walks_every_memory_once(client: httpx.Client) -> None:
    ids = {store(client, f"note number {i}", agent_type="codex")["id"] for i in range(7)}
    seen: list[int] = []
    offset: int | None = 0
    while offset is not None:
        page = client.get("/memories", params={"agent_type": "codex", "limit": 3, "offset": offset}).json()
        assert page["total"] == 7
        seen.extend(m["id"] for m in page["items"])
        offset = page["next_offset"]
    assert sorted(seen) == sorted(ids) and len(seen) == 7


def test_search_applies_every_filter(client: httpx.Client) -> None:
    a = store(client, "postgres connection pool size is 20", agent_type="codex", category="facts",
              labels=["db"], session_key="s-1")["id"]
    store(client, "postgres backups run nightly", agent_type="gemini", category="context")
    store(client, "postgres upgrade decided", agent_type="codex", category="facts", memory_lane_type="decision")

    def ids(**body: object) -> list[int]:
        r = client.post("/memories/search", json={"query": "postgres", **body})
        assert r.status_code == 200, r.text
        return [hit["memory"]["id"] for hit in r.json()["results"]]

    assert len(ids()) == 3
    assert len(ids(agent_type="codex")) == 2
    assert len(ids(category="context")) == 1
    assert ids(labels=["db"]) == [a]
    assert ids(session_key="s-1") == [a]
    assert len(ids(memory_lane_type="decision")) == 1
    assert ids(cognitive_level="raw") == []
    assert len(ids(since="2000-01-01T00:00:00Z")) == 3
    assert ids(until="2000-01-01T00:00:00Z") == []
    hit = client.post("/memories/search", json={"query": "pool size", "explain": True}).json()["results"][0]
    assert hit["score"] > 0 and "[pool]" in hit["highlight"] and "bm25" in hit["explain"]


def test_bad_input_is_422_naming_the_field(client: httpx.Client) -> None:
    r = client.post("/memories", json={"content": "x", "category": "nonsense"})
    assert r.status_code == 422 and r.json()["field"] == "category"
    r = client.post("/memories", json={"content": "   "})
    assert r.status_code == 422 and r.json()["field"] == "content"
    assert "content" in r.json()["hint"]
    r = client.post("/memories", json={"agent_type": "codex"})
    assert r.status_code == 422 and r.json()["field"] == "content"
    r = client.post("/memories/search", json={"query": "x", "limit": 0})
    assert r.status_code == 422 and r.json()["field"] == "limit"
    r = client.post("/memories/search", json={"query": "x", "mode": "vector"})
    assert r.status_code == 422 and r.json()["field"] == "mode"
    r = client.get("/memories", params={"limit": 5000})
    assert r.status_code == 422 and r.json()["field"] == "limit"
    r = client.put("/memories/1", json={"bogus": 1})
    assert r.status_code == 422 and r.json()["field"] == "bogus"


def test_conflict_is_409_and_says_what_to_do(client: httpx.Client) -> None:
    store(client, "first text", agent_type="codex")
    second = store(client, "second text", agent_type="codex")["id"]
    r = client.put(f"/memories/{second}", json={"content": "First text"})
    assert r.status_code == 409
    assert r.json()["error"] == "conflict" and "other memory" in r.json()["hint"]
    assert client.get(f"/memories/{second}").json()["content"] == "second text"


def test_views_namespaces_stats_charts_sessions_jobs(client: httpx.Client, app: App) -> None:
    store(client, "alpha", agent_type="codex", category="facts")
    store(client, "beta", agent_type="gemini")
    assert client.get("/health").json()["status"] == "ok"
    names = {ns["name"]: ns["memory_count"] for ns in client.get("/namespaces").json()["namespaces"]}
    assert names == {"codex": 1, "gemini": 1}
    assert client.get("/stats", params={"agent_type": "codex"}).json()["stats"][0]["categories"] == {"facts": 1}
    charts = client.get("/stats/charts").json()
    assert charts["per_agent"] == {"codex": 1, "gemini": 1} and sum(charts["per_day"].values()) == 2

    app.sessions.start("codex", "sess-9", "/tmp/project-x")
    app.sessions.end("codex", "sess-9", "/tmp/project-x")
    sessions = client.get("/sessions", params={"agent_type": "codex"}).json()["sessions"]
    assert len(sessions) == 1
    events = [e["event"] for e in sessions[0]["events"]]
    assert events[0] == "runtime_session_start" and sessions[0]["ended_at"] is not None

    ns = app.store.ensure_namespace("codex")
    job_id = app.store.enqueue_job(ns.id, "derive", {"memory_id": 1})
    jobs = client.get("/jobs").json()
    listed = {j["id"]: j for j in jobs["items"]}
    assert listed[job_id]["status"] == "pending" and listed[job_id]["agent_type"] == "codex"
    assert jobs["counts"]["pending"] == 1
    assert [j["id"] for j in client.get("/jobs", params={"status": "pending"}).json()["items"]] == [job_id]
    retry = client.post(f"/jobs/{job_id}/retry")
    assert retry.status_code == 409 and "only failed jobs" in retry.json()["hint"]
    assert client.post("/jobs/999/retry").status_code == 404


def test_lineage_lists_sources_and_derived(client: httpx.Client, app: App) -> None:
    src = store(client, "raw observation about tests", agent_type="codex")["id"]
    derived = store(client, "the team prefers real databases in tests", agent_type="codex")["id"]
    app.store.add_evidence([Evidence(derived_memory_id=derived, source_memory_id=src, evidence_role="source")])
    lineage = client.get(f"/memories/{derived}/lineage").json()
    assert [s["id"] for s in lineage["sources"]] == [src]
    assert lineage["sources"][0]["content"] == "raw observation about tests"
    assert client.get(f"/memories/{src}/lineage").json()["derived"][0]["id"] == derived
    assert client.get("/memories/987654/lineage").status_code == 404


def test_openapi_document_and_dashboard_are_served(server: LiveServer) -> None:
    server_url = server.url
    doc = httpx.get(server_url + "/api/v1/openapi.json").json()
    for path in ("/api/v1/memories", "/api/v1/memories/{memory_id}", "/api/v1/memories/search",
                 "/api/v1/health", "/api/v1/namespaces", "/api/v1/stats", "/api/v1/sessions", "/api/v1/jobs"):
        assert path in doc["paths"], path
    props = doc["components"]["schemas"]["MemoryCreate"]["properties"]
    assert {"content", "agent_type", "category", "labels", "metadata"} <= set(props)
    page = httpx.get(server_url + "/")
    assert page.status_code == 200 and "Nexus" in page.text
