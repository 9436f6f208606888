"""Pure rules: bucket limits, blended scores, decay, reflection similarity and contradiction detection."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from nexus_memory.domain import ranking
from nexus_memory.domain import reflection as rules
from nexus_memory.domain.enums import CognitiveLevel, MemoryBucket
from nexus_memory.domain.models import CognitiveMetadata, Memory, PerspectiveKey

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(("m", "expected"), [
    (24, (2, 7, 7, 6, 2)),
    (1, (0, 1, 0, 0, 0)),
    (8, (2, 2, 2, 2, 0)),
    (100, (2, 41, 30, 25, 2)),
])
def test_bucket_limits_follow_upstream(m: int, expected: tuple[int, ...]) -> None:
    lim = ranking.bucket_limits(m)
    assert (lim.digests, lim.recent, lim.semantic, lim.derived, lim.contradictions) == expected
    assert lim.total() <= m


def test_recency_steps_and_perspective_match() -> None:
    assert ranking.recency_score(NOW - timedelta(minutes=30), NOW) == 1.0
    assert ranking.recency_score(NOW - timedelta(hours=5), NOW) == 0.8
    assert ranking.recency_score(NOW - timedelta(hours=100), NOW) == 0.15
    assert ranking.recency_score(NOW - timedelta(days=30), NOW) == 0.0
    req = PerspectiveKey("a", "a", "s1")
    assert ranking.perspective_match(PerspectiveKey("a", "a", "s1"), req) == 1.0
    assert ranking.perspective_match(PerspectiveKey("a", "a", None), req) == 0.8
    assert ranking.perspective_match(PerspectiveKey("a", "a", "s2"), req) == 0.5
    assert ranking.perspective_match(PerspectiveKey("b", "a", "s1"), req) == 0.0
    assert ranking.perspective_match(None, req) == 0.0
    assert ranking.perspective_match(None, None) == 0.5


def test_decay_penalty() -> None:
    assert ranking.decay_penalty(NOW - timedelta(days=50), None, NOW) == 0.0
    assert ranking.decay_penalty(NOW - timedelta(days=400), None, NOW) == pytest.approx(0.15)
    # 200 days old: effective age 170 -> (170 - 90) / 90 * 0.15
    assert ranking.decay_penalty(NOW - timedelta(days=200), None, NOW) == pytest.approx(80 / 90 * 0.15)
    # A recent access resets the clock.
    assert ranking.decay_penalty(NOW - timedelta(days=400), NOW - timedelta(days=2), NOW) == 0.0


def _mem(mid: int, level: CognitiveLevel, conf: float | None, *, reinforced: int = 0, hours: float = 0.5,
         status: str | None = None) -> Memory:
    cog = CognitiveMetadata.new(level, "a", "a", "s1", "test")
    cog.confidence = conf
    cog.times_reinforced = reinforced
    cog.resolution_status = status
    return Memory(id=mid, namespace_id=1, content=f"m{mid}", metadata=cog.merge_into({}),
                  created_at=NOW - timedelta(hours=hours))


def test_blended_scores_per_bucket() -> None:
    req = PerspectiveKey("a", "a", "s1")
    m = _mem(1, CognitiveLevel.EXPLICIT, 0.9)
    assert ranking.blended_score(MemoryBucket.RECENT, m, NOW, request=req) == pytest.approx(0.5 * 0.9 + 0.3 + 0.2)
    d = _mem(2, CognitiveLevel.DERIVED, 0.8, reinforced=10)
    assert ranking.blended_score(MemoryBucket.DERIVED, d, NOW, request=req) == pytest.approx(
        0.45 * 0.8 + 0.30 + 0.15 + 0.10)
    s = ranking.blended_score(MemoryBucket.SEMANTIC, d, NOW, request=req, similarity=0.6)
    assert s == pytest.approx(0.55 * 0.6 + 0.2 + 0.1 + 0.1 + 0.05)
    superseded = _mem(3, CognitiveLevel.EXPLICIT, 0.9, status=ranking.RESOLUTION_SUPERSEDED)
    assert ranking.blended_score(MemoryBucket.RECENT, superseded, NOW, request=req) == pytest.approx(
        0.5 * 0.9 + 0.3 + 0.2 - ranking.SUPERSEDED_PENALTY)


def test_confidence_gates() -> None:
    assert ranking.passes_confidence_gate(_mem(1, CognitiveLevel.EXPLICIT, 0.70))
    assert not ranking.passes_confidence_gate(_mem(1, CognitiveLevel.EXPLICIT, 0.69))
    assert not ranking.passes_confidence_gate(_mem(1, CognitiveLevel.DERIVED, 0.74))
    assert not ranking.passes_confidence_gate(_mem(1, CognitiveLevel.CONTRADICTION, 0.70))
    assert ranking.passes_confidence_gate(_mem(1, CognitiveLevel.CONTRADICTION, None))


def _verdict(a: str, b: str, cosine: float | None = None) -> rules.Verdict | None:
    return rules.classify(rules.analyse(0, a), rules.analyse(1, b), cosine)


def test_reflection_is_case_and_punctuation_insensitive() -> None:
    v = _verdict("We use JWT for authentication", "we use jwt for Authentication!")
    assert v is not None and v.kind == rules.REINFORCEMENT


@pytest.mark.parametrize(("a", "b", "reason"), [
    ("Auth uses JWT tokens", "We no longer use JWT; we switched to session cookies", "negation"),
    ("tests pass on CI", "tests don't pass on CI", "negation"),
    ("feature flag enabled in prod", "Feature flag disabled in prod", "antonym"),
    ("DB pool size is 10", "DB pool size is 20", "value"),
])
def test_contradictions_are_found(a: str, b: str, reason: str) -> None:
    v = _verdict(a, b)
    assert v is not None and v.kind == rules.CONTRADICTION and v.reason == reason


def test_negation_scope_stops_at_clause_end() -> None:
    v = _verdict("Do not use tabs; use spaces", "Use spaces")
    assert v is None or v.kind != rules.CONTRADICTION


def test_unrelated_statements_are_not_paired() -> None:
    assert _verdict("The cache is warm", "Deploys happen on Friday") is None


def test_paraphrase_needs_embeddings() -> None:
    a, b = "Rate limiting allows 5 login attempts per minute", "Login is throttled after five tries a minute"
    v_text = _verdict(a, b)
    assert v_text is None or v_text.kind != rules.REINFORCEMENT
    v_vec = _verdict(a, b, cosine=0.9)
    assert v_vec is not None and v_vec.kind == rules.REINFORCEMENT and v_vec.reason == "paraphrase"


def test_candidate_pairs_skip_unrelated_statements() -> None:
    sts = [rules.analyse(i, t) for i, t in enumerate(["alpha beta gamma", "alpha beta delta", "zeta eta"])]
    assert rules.candidate_pairs(sts) == {(0, 1)}
    plan = rules.plan_reflection(sts)
    assert plan.pairs_compared == 1
