"""Domain model: enum string forms, lanes, cognitive metadata, perspectives, agent identity."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from nexus_memory.domain.agents import canonicalize_agent_type, normalize_project_path, validate_agent_name
from nexus_memory.domain.enums import (
    CognitiveLevel,
    JobStatus,
    MemoryCategory,
    MemoryLaneType,
    PerspectiveSource,
    RelationType,
    RuntimeMode,
    RuntimeShutdownReason,
)
from nexus_memory.domain.models import (
    CognitiveMetadata,
    Memory,
    PerspectiveKey,
    cognitive_level_from_metadata,
    is_raw_activity,
    perspective_from_metadata,
)
from nexus_memory.errors import InvalidInput


def test_category_string_forms_and_descriptions() -> None:
    assert MemoryCategory.values() == ["general", "facts", "preferences", "context", "specifications", "session"]
    assert MemoryCategory.SESSION.description == "Session-based memories and context"
    assert MemoryCategory.GENERAL.description == "General purpose memories"
    assert str(MemoryCategory.FACTS) == "facts"
    assert MemoryCategory.from_db("bogus") is MemoryCategory.GENERAL
    assert MemoryCategory.from_db(None) is MemoryCategory.GENERAL
    assert MemoryCategory.parse(" Facts ") is MemoryCategory.FACTS


def test_unknown_category_lists_the_valid_ones() -> None:
    with pytest.raises(InvalidInput) as info:
        MemoryCategory.parse("fact")
    text = str(info.value)
    assert "unknown category 'fact'" in text
    assert "general, facts, preferences, context, specifications, session" in text


def test_cognitive_level_forms() -> None:
    assert CognitiveLevel.values() == ["raw", "explicit", "derived", "summary_short", "summary_long", "contradiction"]
    assert CognitiveLevel.from_db(None) is CognitiveLevel.RAW
    assert CognitiveLevel.from_db("nonsense") is CognitiveLevel.RAW
    assert CognitiveLevel.parse("summary-short") is CognitiveLevel.SUMMARY_SHORT
    assert CognitiveLevel.SUMMARY_LONG.is_summary and not CognitiveLevel.DERIVED.is_summary


def test_other_enum_forms() -> None:
    assert RelationType.values()[:5] == ["similar", "related", "parent", "child", "references"]
    assert PerspectiveSource.values() == ["hook_ingest", "session_lifecycle", "digest", "reflection", "query"]
    assert RuntimeMode.values() == ["session_scoped", "persistent"]
    assert RuntimeMode.from_cli("session") is RuntimeMode.SESSION_SCOPED
    assert RuntimeMode.from_cli("persistent") is RuntimeMode.PERSISTENT
    with pytest.raises(InvalidInput, match="session, persistent"):
        RuntimeMode.from_cli("forever")
    assert [r.label for r in RuntimeShutdownReason] == ["session-ended", "idle-timeout", "manual"]
    assert RuntimeShutdownReason.from_label("idle-timeout") is RuntimeShutdownReason.IDLE_TIMEOUT
    with pytest.raises(InvalidInput):
        RuntimeShutdownReason.from_label("crash")
    assert JobStatus.values() == ["pending", "running", "completed", "failed"]


COGNITIVE = ["semantic", "episodic", "procedural", "working", "explicit", "implicit", "flashbulb", "metamemory",
             "collective"]
PRIORITY = {"correction": 1, "decision": 1, "commitment": 1, "insight": 2, "learning": 2, "confidence": 2,
            "pattern_seed": 3, "cross_agent": 3, "workflow_note": 3, "gap": 3}


def test_lane_types_and_priority_levels() -> None:
    assert MemoryLaneType.values() == COGNITIVE + list(PRIORITY)
    for value in COGNITIVE:
        lane = MemoryLaneType(value)
        assert lane.is_cognitive and not lane.is_priority and lane.priority_level is None
    for value, level in PRIORITY.items():
        lane = MemoryLaneType(value)
        assert lane.is_priority and not lane.is_cognitive and lane.priority_level == level
    assert MemoryLaneType.from_db("unknown") is None
    assert MemoryLaneType.from_db(None) is None
    assert MemoryLaneType.parse("pattern-seed") is MemoryLaneType.PATTERN_SEED


def test_cognitive_metadata_round_trip() -> None:
    when = datetime(2026, 3, 1, 8, 30, tzinfo=UTC)
    cog = CognitiveMetadata(
        level=CognitiveLevel.DERIVED, observer="claude-code", subject="user", session_key="s1",
        session_keys=["s1", "s2"], source_stage="derive", source_memory_ids=[3, 4], times_reinforced=2,
        times_contradicted=1, confidence=0.75, generated_by="derive_service", derived_at=when,
        last_belief_revision=when, resolution_status="open",
    )
    merged = cog.merge_into({"other": {"keep": True}})
    assert merged["other"] == {"keep": True}
    assert merged["cognitive"]["level"] == "derived"
    assert merged["cognitive"]["derived_at"] == "2026-03-01T08:30:00.000000Z"
    assert set(merged["cognitive"]) == {
        "level", "observer", "subject", "session_key", "session_keys", "source_stage", "source_memory_ids",
        "times_reinforced", "times_contradicted", "confidence", "generated_by", "derived_at",
        "last_belief_revision", "resolution_status"}
    assert CognitiveMetadata.from_metadata(merged) == cog


def test_merge_into_does_not_touch_its_input() -> None:
    original = {"cognitive": {"level": "raw"}, "x": [1]}
    out = CognitiveMetadata(level=CognitiveLevel.EXPLICIT).merge_into(original)
    assert original == {"cognitive": {"level": "raw"}, "x": [1]}
    out["x"].append(2)
    assert original["x"] == [1]
    assert CognitiveMetadata().merge_into(None) == {"cognitive": CognitiveMetadata().to_dict()}


def test_from_metadata_is_lenient() -> None:
    assert CognitiveMetadata.from_metadata(None) is None
    assert CognitiveMetadata.from_metadata({}) is None
    assert CognitiveMetadata.from_metadata({"cognitive": "text"}) is None
    cog = CognitiveMetadata.from_metadata({"cognitive": {"level": "weird", "times_reinforced": "x",
                                                          "confidence": "high", "session_keys": ["a", None, ""]}})
    assert cog is not None
    assert cog.level is CognitiveLevel.RAW and cog.times_reinforced == 0 and cog.confidence is None
    assert cog.session_keys == ["a"]
    assert cognitive_level_from_metadata({"cognitive": {"level": "summary_long"}}) is CognitiveLevel.SUMMARY_LONG
    assert cognitive_level_from_metadata(None) is CognitiveLevel.RAW


def test_cognitive_new_and_perspective() -> None:
    cog = CognitiveMetadata.new(CognitiveLevel.EXPLICIT, "codex", "user", "k1", "direct")
    assert cog.session_keys == ["k1"] and cog.source_stage == "direct"
    assert cog.perspective() == PerspectiveKey("codex", "user", "k1")
    assert CognitiveMetadata.new(CognitiveLevel.RAW, "codex", "user", None, "x").session_keys == []
    assert perspective_from_metadata(cog.merge_into({})) == PerspectiveKey("codex", "user", "k1")
    assert perspective_from_metadata({"cognitive": {"observer": "x"}}) is None


@pytest.mark.parametrize(("source", "subject"), [
    (PerspectiveSource.HOOK_INGEST, "agent_activity"),
    (PerspectiveSource.SESSION_LIFECYCLE, "user_session"),
    (PerspectiveSource.DIGEST, "session_consolidation"),
    (PerspectiveSource.REFLECTION, "knowledge_distillation"),
    (PerspectiveSource.QUERY, "knowledge_retrieval"),
])
def test_perspective_infer_default_subjects(source: PerspectiveSource, subject: str) -> None:
    assert PerspectiveKey.infer(source, "gemini", "s") == PerspectiveKey("gemini", subject, "s")


def test_perspective_infer_hint_and_blank_session() -> None:
    key = PerspectiveKey.infer(PerspectiveSource.QUERY, "gemini", "  ", subject_hint="billing")
    assert key == PerspectiveKey("gemini", "billing", None)
    assert PerspectiveKey.infer(PerspectiveSource.QUERY, "g", None, subject_hint="  ").subject == "knowledge_retrieval"
    assert {key, PerspectiveKey("gemini", "billing")} == {key}  # hashable, a group key
    assert key.to_dict() == {"observer": "gemini", "subject": "billing", "session_key": None}


def test_raw_activity_rule() -> None:
    assert is_raw_activity(("raw-activity",), {})
    assert is_raw_activity((), {"raw_activity": {}})
    assert not is_raw_activity(("activity",), {"raw_activity": None})
    m = Memory(id=1, namespace_id=1, content="x", labels=("raw-activity",))
    assert m.is_raw_activity and m.level() is CognitiveLevel.RAW and m.confidence is None


@pytest.mark.parametrize(("given", "canonical"), [
    ("claude", "claude-code"), ("Claude-Code", "claude-code"), ("claude_code", "claude-code"),
    ("pi", "pi-mono"), ("pimono", "pi-mono"), ("omp", "oh-my-pi"), ("ohmypi", "oh-my-pi"), ("amp", "amp"),
    ("codex", "codex"), ("factory", "droid"), ("droid", "droid"), ("gemini-cli", "gemini"), ("Qwen", "qwen"),
    ("qwen-code", "qwen"), ("opencode", "opencode"), ("cursor-agent", "cursor"), ("copilot-cli", "copilot"),
    ("SomethingElse", "somethingelse"),
])
def test_canonicalize_agent_type(given: str, canonical: str) -> None:
    assert canonicalize_agent_type(given) == canonical
    assert canonicalize_agent_type(canonical) == canonical  # idempotent


def test_validate_agent_name() -> None:
    assert validate_agent_name("  Claude ") == "claude-code"
    with pytest.raises(InvalidInput, match="empty"):
        validate_agent_name("   ")
    with pytest.raises(InvalidInput, match="not usable"):
        validate_agent_name("a\nb")


@pytest.mark.parametrize(("path", "expected"), [
    ("/", "/"), ("//", "/"), ("/a//b///c/", "/a/b/c"), ("a/b/", "a/b"), ("/A/./B", "/A/./B"), ("", ""),
])
def test_normalize_project_path(path: str, expected: str) -> None:
    assert normalize_project_path(path) == expected
