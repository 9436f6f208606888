"""Stages with an LLM behind a loopback server; the daily budget sends them back to deterministic paths."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from nexus_memory.app import App, build_app
from nexus_memory.config import load_settings
from tests.cognition.helpers import put, raw_event
from tests.conftest import run_nexus
from tests.llm.loopback import Script, openai_ok, serve


@pytest.fixture
def llm_app(nexus_home: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[App, Script]]:
    with serve() as (url, script):
        monkeypatch.setenv("NEXUS_LLM_PROVIDER", "openai-compatible")
        monkeypatch.setenv("NEXUS_LLM_BASE_URL", url + "/v1")
        monkeypatch.setenv("NEXUS_LLM_MODEL", "gpt-4o-mini")
        monkeypatch.setenv("NEXUS_LLM_DAILY_TOKEN_BUDGET", "5000")
        app = build_app(load_settings())
        try:
            yield app, script
        finally:
            app.close()


def test_derive_reads_accepted_memories_alias(llm_app: tuple[App, Script]) -> None:
    app, script = llm_app
    raw = raw_event(app, 1, session="s-llm")
    script.add(openai_ok('```json\n{"accepted_memories": [{"memory": "The project pins Rust 1.75", '
                         '"category": "facts", "labels": ["rust"], "confidence": 0.9}, '
                         '{"memory": "noise", "confidence": 0.2}]}\n```'))
    r = app.cognition.derive(raw.id).to_dict()
    assert r["used_llm"] and len(r["derived_ids"]) == 1
    m = app.store.get(r["derived_ids"][0])
    assert m is not None and m.content == "The project pins Rust 1.75" and m.category.value == "facts"
    assert m.cognitive and m.cognitive.confidence == 0.9
    assert app.cognition.llm_status().to_dict()["calls_today"] == 1


def test_digest_uses_llm_then_falls_back_when_budget_is_spent(llm_app: tuple[App, Script]) -> None:
    app, script = llm_app
    put(app, "Decision: use cursor pagination", session="s-b")
    script.add(openai_ok('{"short": "Chose cursor pagination.", "long": "The team chose cursor pagination."}',
                         prompt=4000, completion=1000))
    r = app.cognition.digest("claude-code", "s-b").to_dict()
    assert r["used_llm"]
    assert "Chose cursor pagination." in app.cognition.latest_digests("claude-code", "s-b").to_dict()["short"]["content"]
    put(app, "Decision: pages hold 50 items", session="s-b")
    r2 = app.cognition.digest("claude-code", "s-b", rebuild=True).to_dict()
    assert not r2["used_llm"] and len(script.requests) == 1  # budget spent: no second call
    status = app.cognition.llm_status().to_dict()
    assert status["exhausted"] and status["fallbacks_today"] == 1


def test_failed_call_falls_back(llm_app: tuple[App, Script]) -> None:
    app, script = llm_app
    from tests.llm.loopback import Reply

    script.add(Reply(429, {"error": {"message": "Rate limit reached"}}))
    put(app, "Finding: the cache is cold after deploys", session="s-f")
    r = app.cognition.digest("claude-code", "s-f").to_dict()
    assert r["status"] == "created" and not r["used_llm"]


def test_stats_and_llm_commands_say_when_budget_is_spent(nexus_home: Path, tmp_path: Path) -> None:
    with serve() as (url, script):
        env = {"NEXUS_LLM_PROVIDER": "openai-compatible", "NEXUS_LLM_BASE_URL": url,
               "NEXUS_LLM_DAILY_TOKEN_BUDGET": "50"}
        script.add(openai_ok('{"color": "blue", "number": 42}', prompt=30, completion=30))
        ok = run_nexus("llm", "test", env=env)
        assert ok.returncode == 0 and "LLM ok" in ok.stdout
        run_nexus("store", "-m", "something", env=env)
        stats = run_nexus("stats", env=env)
        assert "daily token budget spent" in stats.stdout
    none = run_nexus("llm", "test")
    assert none.returncode == 1 and "no LLM provider is configured" in none.stderr
    bad = run_nexus("stats", env={"NEXUS_LLM_PROVIDER": "openai"})
    assert bad.returncode == 0 and "misconfigured" in bad.stdout


def test_distill_and_soul_use_the_llm_when_it_answers(llm_app: tuple[App, Script]) -> None:
    app, script = llm_app
    for i in range(8):
        raw_event(app, i, session="s-d")
    script.add(openai_ok('{"summary": "Listed the repo and ran tests.", "category": "context", '
                         '"labels": ["ci"], "tools_used": ["Bash"], "decisions_made": ["keep CI green"]}'))
    r = app.cognition.distill("claude-code", "s-d").to_dict()
    assert r["used_llm"]
    summary = app.store.get(r["summary_id"])
    assert summary is not None and summary.content == "Listed the repo and ran tests."
    assert summary.category.value == "context"
    assert summary.metadata["distillation_summary"]["decisions_made"] == ["keep CI green"]
    from nexus_memory.domain.enums import MemoryCategory

    put(app, "I prefer small commits in /home/me/private", category=MemoryCategory.PREFERENCES)
    script.add(openai_ok('{"normalized": [{"content": "Prefers small commits", "category": "IdentityPreference", '
                         '"confidence": 0.9, "observation_count": 2}, {"content": "weak", "confidence": 0.3}], '
                         '"discarded_count": 1}'))
    soul = app.cognition.rebuild_soul().to_dict()
    assert soul["written"] and soul["used_llm"]
    text = app.cognition.soul().to_dict()["content"]
    assert "- Prefers small commits" in text and "weak" not in text
