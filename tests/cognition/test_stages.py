"""The dream-cycle stages on a real SQLite file: distill, derive, digest, reflect, and their lineage."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from nexus_memory.app import App
from nexus_memory.domain.enums import CognitiveLevel, JobType, MemoryCategory, RelationType
from nexus_memory.domain.models import MemoryFilter
from nexus_memory.domain.ranking import RESOLUTION_PREFERRED, RESOLUTION_SUPERSEDED
from tests.cognition.helpers import put, raw_event

T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


def test_distill_needs_eight_events_then_extracts_and_archives_nothing(app: App) -> None:
    events = [raw_event(app, i) for i in range(7)]
    r = app.cognition.distill("claude-code", "s-raw").to_dict()
    assert r["status"] == "skipped" and "needs 8" in r["reason"]
    meta = {"raw_activity": {"derived_session_key": "s-raw", "distill_pending": True},
            "capture": {"kind": "episode", "tool": "Bash", "command": "cat deploy/prod.env"}}
    events.append(put(app, "$ cat deploy/prod.env\nDB_HOST=db-prod-3.internal\nDB_PORT=6432\n----", session="s-raw",
                      level=CognitiveLevel.RAW, labels=("raw-activity", "tool", "tool:Bash"),
                      category=MemoryCategory.SESSION, confidence=0.35, metadata=meta))
    r = app.cognition.distill("claude-code", "s-raw").to_dict()
    assert r["status"] == "distilled" and sorted(r["sources"]) == sorted(e.id for e in events)
    assert r["summary_id"] is None, "without an LLM nothing is invented"
    # Extractive: the episode's fact lines, linked to it; the noise line is left out.
    facts = [m for m in app.store.list_memories(MemoryFilter(labels=("extracted",)))]
    assert len(facts) == 1 and facts[0].level() is CognitiveLevel.DERIVED
    assert facts[0].content == "`cat deploy/prod.env`: DB_HOST=db-prod-3.internal; DB_PORT=6432"
    assert [e.source_memory_id for e in app.store.lineage(facts[0].id)] == [events[-1].id]
    # Nothing is archived: the episodes stay the record, marked distilled.
    for e in events:
        src = app.store.get(e.id)
        assert src is not None and src.is_active and not src.is_archived
        assert src.metadata["raw_activity"]["distill_pending"] is False
    # Nothing pending any more: a second run does nothing.
    assert app.cognition.distill("claude-code", "s-raw").to_dict()["status"] == "skipped"


def test_derive_is_idempotent_and_queues_follow_ups(app: App) -> None:
    raw = raw_event(app, 1, session="s-derive")
    r = app.cognition.derive(raw.id).to_dict()
    assert r["status"] == "derived" and len(r["derived_ids"]) == 1
    obs = app.store.get(r["derived_ids"][0])
    assert obs is not None and obs.level() is CognitiveLevel.EXPLICIT
    assert obs.cognitive and obs.cognitive.confidence == 0.70 and obs.cognitive.generated_by == "derive_service"
    assert "raw-activity" not in obs.labels
    assert app.cognition.derive(raw.id).to_dict()["status"] == "existing"
    types = sorted(j.job_type for j in app.store.list_jobs(status="pending"))
    assert types == [JobType.DIGEST_SESSION.value, JobType.REFLECT_PERSPECTIVE.value]
    # A memory that is not raw activity is left alone unless forced.
    plain = put(app, "a plain explicit note")
    assert app.cognition.derive(plain.id).to_dict()["status"] == "skipped"


def test_digest_rollover_and_one_current_pair_per_session(app: App) -> None:
    for i in range(3):
        put(app, f"Decision {i}: keep the API stable", session="s-dig")
    first = app.cognition.digest("claude-code", "s-dig").to_dict()
    assert first["status"] == "created"
    again = app.cognition.digest("claude-code", "s-dig").to_dict()
    assert again["status"] == "unchanged" and again["short_id"] == first["short_id"]
    put(app, "Decision 3: add pagination", session="s-dig")
    second = app.cognition.digest("claude-code", "s-dig", rebuild=True).to_dict()
    assert second["status"] == "created" and second["short_id"] != first["short_id"]
    ns = app.store.get_namespace("claude-code")
    assert ns is not None
    rows = app.store.list_digests(ns.id, "s-dig")
    assert sorted(r.digest_kind for r in rows) == ["long", "short"]
    old = app.store.get(first["short_id"])
    assert old is not None and old.is_archived
    latest = app.cognition.latest_digests("claude-code", "s-dig").to_dict()
    assert "add pagination" in latest["long"]["content"]


def test_digest_without_material_is_skipped(app: App) -> None:
    from nexus_memory.errors import NotFound

    with pytest.raises(NotFound, match="no memories for agent 'claude-code'"):
        app.cognition.digest("claude-code", "nobody").to_dict()  # reads never create an agent
    put(app, "something in another session", session="other")
    r = app.cognition.digest("claude-code", "nobody").to_dict()
    assert r["status"] == "skipped" and "no non-raw memories" in r["reason"]


def test_reflection_reinforces_contradicts_and_revises_beliefs(app: App) -> None:
    old = put(app, "We use JWT for authentication", at=T0)
    same = put(app, "we use jwt for Authentication.", at=T0 + timedelta(hours=1))
    new = put(app, "Auth no longer uses JWT; we switched to session cookies", at=T0 + timedelta(days=2))
    r = app.cognition.reflect("claude-code").to_dict()
    assert len(r["reinforcements"]) == 1 and len(r["contradictions"]) == 2
    c = app.store.get(r["contradictions"][0])
    assert c is not None and c.level() is CognitiveLevel.CONTRADICTION and c.content.startswith("Contradiction: ")
    after_old, after_new = app.store.get(old.id), app.store.get(new.id)
    assert after_old and after_new and after_old.cognitive and after_new.cognitive
    assert after_old.cognitive.resolution_status == RESOLUTION_SUPERSEDED
    assert after_old.cognitive.confidence == 0.9 - 0.15
    assert after_new.cognitive.resolution_status == RESOLUTION_PREFERRED
    assert after_old.cognitive.times_contradicted == 1 and after_old.cognitive.times_reinforced == 1
    rels = {(x.source_memory_id, x.target_memory_id, x.relation_type) for x in app.store.relations_for(old.id)}
    assert (new.id, old.id, RelationType.SUPERSEDES.value) in rels
    # Idempotent: nothing new the second time.
    r2 = app.cognition.reflect("claude-code").to_dict()
    assert r2["reinforcements"] == [] and r2["contradictions"] == [] and r2["insights"] == []
    # Recall prefers the newer statement.
    rep = app.cognition.represent("claude-code", query="authentication JWT session")
    ids = [i.memory.id for i in rep.items() if i.memory.id in (old.id, new.id, same.id)]
    assert ids.index(new.id) < ids.index(old.id)


def test_reflection_insight_from_three_related_statements(app: App) -> None:
    for i, text in enumerate(["The event handler leaks memory through a circular reference",
                              "A circular reference in the event handler leaks memory",
                              "Memory leaks in the event handler come from a circular reference"]):
        put(app, text, at=T0 + timedelta(minutes=i))
    r = app.cognition.reflect("claude-code").to_dict()
    assert len(r["insights"]) == 1
    insight = app.store.get(r["insights"][0])
    assert insight is not None and insight.content.startswith("Dream insight: repeated evidence indicates")
    assert insight.cognitive and insight.cognitive.confidence == 0.72
    assert app.cognition.reflect("claude-code").to_dict()["insights"] == []


def test_reflection_stays_inside_the_namespace(app: App) -> None:
    put(app, "The build uses Rust nightly", agent="claude-code")
    put(app, "The build does not use Rust nightly", agent="gemini")
    assert app.cognition.reflect("claude-code").to_dict()["contradictions"] == []
    assert app.cognition.reflect("gemini").to_dict()["contradictions"] == []


def test_representation_reports_reasons_and_gates(app: App) -> None:
    put(app, "low confidence guess about caching", confidence=0.5)
    kept = put(app, "The cache TTL is five minutes", confidence=0.9)
    rep = app.cognition.represent("claude-code", query="cache TTL", max_items=8)
    d = rep.to_dict()
    assert d["limits"] == {"digests": 2, "recent": 2, "semantic": 2, "derived": 2, "contradictions": 0}
    assert any(i["id"] == kept.id for i in d["recent"] + d["semantic"])
    assert any(e["reason"] == "confidence_gate" for e in d["excluded"])
    flt = MemoryFilter(agents=("claude-code",))
    assert app.store.count(flt) == 2
