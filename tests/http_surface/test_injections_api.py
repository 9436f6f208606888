"""GET /api/v1/stats/injections and /api/v1/injections (what memory costs, issue 16) over real HTTP,
on SQLite and on PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from nexus_memory.app import App, build_app
from nexus_memory.config import load_settings
from nexus_memory.domain.costs import local_day
from tests.servekit import LiveServer


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def any_app(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[App]:
    monkeypatch.setenv("NEXUS_DAILY_TOKEN_CAPS", "gemini=500")
    url = request.getfixturevalue("pg_url") if request.param == "postgres" else None
    application = build_app(load_settings(database_url=url))
    yield application
    application.close()


def test_injections_per_day_per_session_and_why(any_app: App) -> None:
    costs = any_app.costs
    costs.record(agent="claude-code", channel="session_pack", tokens=800, ids=[3, 4], session_key="s1", budget=900,
                 project="/repo", source="SessionStart")
    costs.record(agent="claude-code", channel="prompt_recall", tokens=120, ids=[7], session_key="s1", budget=350,
                 source="UserPromptSubmit", query="which port?", reasons={7: {"coverage": 0.62}})
    costs.record(agent="gemini", channel="prompt_recall", tokens=600, ids=[9], session_key="g1", budget=350,
                 capped=True, reasons={9: {"coverage": 0.9, "cosine": 0.8}})
    with LiveServer(any_app) as server, httpx.Client(base_url=server.url + "/api/v1", timeout=30) as client:
        report = client.get("/stats/injections", params={"days": 7}).json()
        assert report["today"] == local_day() and report["days"] == 7
        (today,) = report["per_day"]
        assert today["tokens"] == 1520 and today["injections"] == 3 and today["capped"] == 1
        assert today["channels"] == {"session_pack": 800, "prompt_recall": 720, "mcp_results": 0}
        assert today["agents"] == {"claude-code": 920, "gemini": 600}
        assert report["caps"] == {"claude-code": 1_000_000, "gemini": 500}
        assert report["today_by_agent"] == {"claude-code": 920, "gemini": 600}
        assert [(s["agent_type"], s["session_key"], s["tokens"], s["budget"]) for s in report["sessions"]] == [
            ("gemini", "g1", 600, 350), ("claude-code", "s1", 920, 1250)]
        only = client.get("/stats/injections", params={"agent_type": "claude"}).json()
        assert [s["session_key"] for s in only["sessions"]] == ["s1"] and only["caps"] == {"claude-code": 1_000_000}

        one = client.get("/injections", params={"session_key": "s1", "agent_type": "claude-code"}).json()
        assert one["count"] == 2 and [i["channel"] for i in one["injections"]] == ["session_pack", "prompt_recall"]
        assert one["injections"][1]["memory_ids"] == [7] and one["injections"][1]["reasons"] == {"7": {"coverage": 0.62}}
        assert one["injections"][0]["project"] == "/repo" and one["injections"][0]["source"] == "SessionStart"
        latest = client.get("/injections", params={"limit": 1}).json()
        assert latest["count"] == 1 and latest["injections"][0]["agent_type"] == "gemini"
        assert latest["injections"][0]["capped"] is True

        secret = "ghp_" + "a1B2c3D4e5" * 3 + "f6G7h8"
        costs.record(agent="codex", channel="mcp_results", tokens=10, ids=[1], query=f"push with {secret}")
        stored = client.get("/injections", params={"agent_type": "codex"}).json()["injections"][0]["query"]
        assert secret not in stored and stored.startswith("push with ")

        bad = client.get("/stats/injections", params={"days": 0})
        assert bad.status_code == 422 and bad.json()["field"] == "days"
        bad = client.get("/injections", params={"agent_type": "bad\tname"})
        assert bad.status_code == 422 and bad.json()["field"] == "agent_type"
