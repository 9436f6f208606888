"""Soak tests from upstream reference 11: sessions, namespaces and digests stay separate and stable."""

from __future__ import annotations

from nexus_memory.app import App
from nexus_memory.domain.models import MemoryFilter
from tests.cognition.helpers import put

TOPICS = {"s-a": "the billing service retries webhooks", "s-b": "the search index rebuilds nightly",
          "s-c": "the mobile app uses dark mode by default"}


def _session(app: App, agent: str, key: str, text: str) -> None:
    app.sessions.start(agent, key, "/work/proj")
    put(app, f"Finding: {text}", agent=agent, session=key)
    put(app, f"Decision: document that {text}", agent=agent, session=key)
    app.sessions.end(agent, key, "/work/proj")


def test_consecutive_sessions_do_not_bleed(app: App) -> None:
    for key, text in TOPICS.items():
        _session(app, "claude-code", key, text)
    for key, text in TOPICS.items():
        digest = app.cognition.latest_digests("claude-code", key).to_dict()
        content = digest["short"]["content"] + digest["long"]["content"]
        assert text in content
        for other_key, other in TOPICS.items():
            if other_key != key:
                assert other not in content


def test_agent_namespaces_stay_isolated(app: App) -> None:
    for agent in ("claude-code", "gemini", "qwen"):
        _session(app, agent, f"{agent}-1", f"{agent} prefers small commits")
    for agent in ("claude-code", "gemini", "qwen"):
        mems = app.store.list_memories(MemoryFilter(agents=(agent,)), limit=200)
        assert mems and all(m.agent == agent for m in mems)
        assert not any(o in m.content for m in mems for o in ("gemini prefers", "qwen prefers", "claude-code prefers")
                       if not o.startswith(agent))
        rep = app.cognition.represent(agent, query="prefers small commits")
        assert all(i.memory.agent == agent for i in rep.items())


def test_repeated_session_end_dreams_keep_one_short_digest(app: App) -> None:
    for _ in range(3):
        _session(app, "claude-code", "s-rep", "the API uses cursor pagination")
    ns = app.cognition.namespace("claude-code")
    shorts = [d for d in app.store.list_digests(ns.id, "s-rep") if d.digest_kind == "short"]
    assert len(shorts) == 1
    active = app.store.list_memories(MemoryFilter(agents=("claude-code",), labels=("summary_short",)), limit=50)
    assert len([m for m in active if m.session_key == "s-rep"]) == 1


def test_later_dreams_do_not_corrupt_earlier_digests(app: App) -> None:
    _session(app, "claude-code", "s-early", "the CLI exits 2 on usage errors")
    before = app.cognition.latest_digests("claude-code", "s-early").to_dict()
    for i in range(3):
        _session(app, "claude-code", f"s-later-{i}", f"later topic number {i} about caching")
        app.cognition.dream_cycle("claude-code").to_dict()
    after = app.cognition.latest_digests("claude-code", "s-early").to_dict()
    assert after["short"]["memory_id"] == before["short"]["memory_id"]
    assert after["short"]["content"] == before["short"]["content"]
    memory = app.store.get(before["short"]["memory_id"])
    assert memory is not None and memory.is_active
