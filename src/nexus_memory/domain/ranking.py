"""Working-representation ranking rules (upstream reference 5.7), pure and shared by every surface.

Bucket limits, per-bucket confidence gates, the blended score of each bucket,
recency steps, perspective match, memory decay and the tie-break order. One
addition over upstream: a memory that belief revision marked as superseded is
demoted, so the newer statement wins in recall.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import TYPE_CHECKING, NamedTuple

from nexus_memory.domain.enums import CognitiveLevel, MemoryBucket
from nexus_memory.domain.models import Memory

if TYPE_CHECKING:  # built on first use (domain/records.py)
    from nexus_memory.domain.records import PerspectiveKey

#: Bucket priority used to break ties (upstream: Digests 5 > Contradictions 4 > Derived 3 > Semantic 2 > Recent 1).
BUCKET_PRIORITY = {
    MemoryBucket.DIGESTS: 5,
    MemoryBucket.CONTRADICTIONS: 4,
    MemoryBucket.DERIVED: 3,
    MemoryBucket.SEMANTIC: 2,
    MemoryBucket.RECENT: 1,
}

#: Minimum confidence per cognitive level; a missing confidence counts as 1.0.
CONFIDENCE_GATES = {
    CognitiveLevel.EXPLICIT: 0.70,
    CognitiveLevel.DERIVED: 0.75,
    CognitiveLevel.CONTRADICTION: 0.80,
}

DEFAULT_CONFIDENCE = 0.75
SEMANTIC_THRESHOLD = 0.58
#: Score taken off a statement that a newer one superseded (belief revision).
SUPERSEDED_PENALTY = 0.15
RESOLUTION_SUPERSEDED = "superseded"
RESOLUTION_PREFERRED = "preferred"


class BucketLimits(NamedTuple):  # a tuple: built for a fraction of a frozen dataclass's cost
    digests: int
    recent: int
    semantic: int
    derived: int
    contradictions: int

    def of(self, bucket: MemoryBucket) -> int:
        return int(getattr(self, bucket.value))

    def total(self) -> int:
        return self.digests + self.recent + self.semantic + self.derived + self.contradictions


def bucket_limits(max_items: int) -> BucketLimits:
    """Split `max_items` across the five buckets exactly as upstream does."""
    m = max(1, int(max_items))
    digests = min(m, 2)
    contradictions = min(m // 10, 2)
    rem = max(0, m - digests - contradictions)
    derived = min(rem, max(m // 4, 4)) if m >= 16 else min(rem, max(m // 4, 1))
    remaining = max(0, rem - derived)
    semantic = min(remaining, max(3 * m // 10, 4)) if m >= 16 else min(remaining, max(m // 3, 1))
    recent = max(0, remaining - semantic)
    if recent == 0:
        # Take one slot back for recent: from semantic, then derived, digests, contradictions.
        if semantic > 0:
            semantic -= 1
            recent = 1
        elif derived > 0:
            derived -= 1
            recent = 1
        elif digests > 0:
            digests -= 1
            recent = 1
        elif contradictions > 0:
            contradictions -= 1
            recent = 1
    return BucketLimits(digests, recent, semantic, derived, contradictions)


def overfetch(max_items: int, limit: int) -> int:
    return max(int(max_items), 3 * int(limit))


def confidence_of(memory: Memory) -> float | None:
    cog = memory.cognitive
    return cog.confidence if cog else None


def passes_confidence_gate(memory: Memory) -> bool:
    """Upstream `confidence_meets_threshold`: missing confidence counts as 1.0."""
    gate = CONFIDENCE_GATES.get(memory.level())
    if gate is None:
        return True
    conf = confidence_of(memory)
    return (1.0 if conf is None else conf) >= gate


def admits_level(bucket: MemoryBucket, level: CognitiveLevel, include_raw: bool) -> bool:
    """Which cognitive levels each bucket may hold."""
    if bucket is MemoryBucket.RECENT:
        return level is CognitiveLevel.EXPLICIT or (include_raw and level is CognitiveLevel.RAW)
    if bucket is MemoryBucket.SEMANTIC:
        return level in (CognitiveLevel.EXPLICIT, CognitiveLevel.DERIVED, CognitiveLevel.CONTRADICTION) or (
            include_raw and level is CognitiveLevel.RAW
        )
    if bucket is MemoryBucket.DERIVED:
        return level is CognitiveLevel.DERIVED
    if bucket is MemoryBucket.CONTRADICTIONS:
        return level is CognitiveLevel.CONTRADICTION
    return level.is_summary


def recency_score(created_at: datetime | None, now: datetime) -> float:
    """Step function over the age in hours."""
    if created_at is None:
        return 0.0
    hours = (now - created_at).total_seconds() / 3600.0
    if hours <= 1:
        return 1.0
    if hours <= 6:
        return 0.8
    if hours <= 24:
        return 0.6
    if hours <= 72:
        return 0.35
    if hours <= 168:
        return 0.15
    return 0.0


def perspective_match(memory_perspective: PerspectiveKey | None, request: PerspectiveKey | None) -> float:
    if request is None:
        return 0.5
    if memory_perspective is None:
        return 0.0
    if memory_perspective.observer != request.observer or memory_perspective.subject != request.subject:
        return 0.0
    if request.session_key is None:
        return 0.8
    if memory_perspective.session_key == request.session_key:
        return 1.0
    if memory_perspective.session_key is None:
        return 0.8
    return 0.5


def decay_penalty(
    created_at: datetime | None,
    last_accessed: datetime | None,
    now: datetime,
    *,
    age_days: int = 90,
    access_boost_days: int = 30,
) -> float:
    """Old, unused memories lose up to 0.15; a recent access resets the clock."""
    if created_at is None:
        return 0.0
    age = (now - created_at).total_seconds() / 86400.0
    if age < age_days:
        return 0.0
    if last_accessed is not None and (now - last_accessed).total_seconds() / 86400.0 < access_boost_days:
        effective = 0.0
    else:
        effective = age - access_boost_days
    if effective <= age_days:
        return 0.0
    return min((effective - age_days) / age_days * 0.15, 0.15)


class ScoreInputs(NamedTuple):  # a tuple: built for a fraction of a frozen dataclass's cost
    confidence: float
    reinforcement: float
    similarity: float
    recency: float
    perspective: float
    bonus: float


def score_inputs(
    memory: Memory, now: datetime, request: PerspectiveKey | None, similarity: float | None = None
) -> ScoreInputs:
    cog = memory.cognitive
    conf = cog.confidence if cog and cog.confidence is not None else DEFAULT_CONFIDENCE
    reinforced = cog.times_reinforced if cog else 0
    sim = similarity
    if sim is None:
        sim = memory.relevance_score if memory.relevance_score is not None else (memory.similarity_score or 0.0)
    level = memory.level()
    return ScoreInputs(
        confidence=conf,
        reinforcement=min(reinforced / 5.0, 1.0),
        similarity=max(0.0, min(1.0, float(sim))),
        recency=recency_score(memory.created_at, now),
        perspective=perspective_match(cog.perspective() if cog else None, request),
        bonus=1.0 if level.is_summary or level is CognitiveLevel.DERIVED else 0.0,
    )


def bucket_formula(bucket: MemoryBucket, x: ScoreInputs) -> float:
    if bucket is MemoryBucket.DIGESTS:
        return 0.45 * x.confidence + 0.30 * x.recency + 0.25 * x.perspective + 0.05
    if bucket is MemoryBucket.DERIVED:
        return 0.45 * x.confidence + 0.30 * x.reinforcement + 0.15 * x.recency + 0.10 * x.perspective
    if bucket is MemoryBucket.SEMANTIC:
        return (0.55 * x.similarity + 0.20 * x.reinforcement + 0.10 * x.recency + 0.10 * x.perspective
                + 0.05 * x.bonus)
    if bucket is MemoryBucket.RECENT:
        return 0.50 * x.confidence + 0.30 * x.recency + 0.20 * x.perspective
    return 0.60 * x.confidence + 0.25 * x.recency + 0.15 * x.perspective


def is_superseded(memory: Memory) -> bool:
    cog = memory.cognitive
    return bool(cog and cog.resolution_status == RESOLUTION_SUPERSEDED)


def blended_score(
    bucket: MemoryBucket,
    memory: Memory,
    now: datetime,
    *,
    request: PerspectiveKey | None = None,
    similarity: float | None = None,
    include_raw: bool = False,
    decay_enabled: bool = True,
    decay_age_days: int = 90,
    decay_access_boost_days: int = 30,
) -> float:
    """The bucket's blended score, minus decay and the superseded penalty, clamped at -1."""
    if memory.is_archived:
        return -0.5
    if memory.is_raw_activity:
        return -0.1 if include_raw else -1.0
    score = bucket_formula(bucket, score_inputs(memory, now, request, similarity))
    if decay_enabled:
        score -= decay_penalty(memory.created_at, memory.last_accessed, now, age_days=decay_age_days,
                               access_boost_days=decay_access_boost_days)
    if is_superseded(memory):
        score -= SUPERSEDED_PENALTY
    return max(score, -1.0)


def sort_key(score: float, memory: Memory, bucket: MemoryBucket) -> tuple[float, float, int, int]:
    """Best first: score, then newer, then bucket priority, then lower id."""
    created = memory.created_at.timestamp() if memory.created_at else 0.0
    return (-round(score, 9), -created, -BUCKET_PRIORITY[bucket], memory.id)


def estimate_tokens(text: str) -> int:
    """One token estimator for the whole system: about four characters per token."""
    return max(0, math.ceil(len(text) / 4))


__all__ = [
    "BUCKET_PRIORITY",
    "CONFIDENCE_GATES",
    "SEMANTIC_THRESHOLD",
    "BucketLimits",
    "admits_level",
    "blended_score",
    "bucket_formula",
    "bucket_limits",
    "decay_penalty",
    "estimate_tokens",
    "is_superseded",
    "passes_confidence_gate",
    "perspective_match",
    "recency_score",
    "sort_key",
]
