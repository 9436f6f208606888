"""Dream tiers (reference 5.11): the dream cycle, the adaptive schedule at shutdown, adaptive intervals."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum

from nexus_memory.domain.enums import CognitiveLevel
from nexus_memory.domain.models import Memory


class DreamScheduleAction(str, Enum):
    IMMEDIATE_BOUNDED = "immediate_bounded"
    DELAYED_ENQUEUE = "delayed_enqueue"
    DIGEST_ONLY = "digest_only"
    SKIP = "skip"


@dataclass(frozen=True, slots=True)
class DreamSignals:
    raw: int = 0
    explicit: int = 0
    derived: int = 0
    contradictions: int = 0
    has_digest: bool = False

    @property
    def non_raw(self) -> int:
        return self.explicit + self.derived + self.contradictions

    @property
    def density(self) -> float:
        return self.contradictions / self.non_raw if self.non_raw else 0.0

    @classmethod
    def from_memories(cls, mems: Sequence[Memory], has_digest: bool) -> DreamSignals:
        counts = {lv: 0 for lv in CognitiveLevel}
        for m in mems[:512]:
            counts[m.level()] += 1
        return cls(raw=counts[CognitiveLevel.RAW], explicit=counts[CognitiveLevel.EXPLICIT],
                   derived=counts[CognitiveLevel.DERIVED], contradictions=counts[CognitiveLevel.CONTRADICTION],
                   has_digest=has_digest)


def choose_dream_schedule(signals: DreamSignals, reason: str) -> DreamScheduleAction:
    """Upstream `choose_dream_schedule`: what to do at shutdown given the session's signals."""
    session_end = reason in ("session_end", "session_ended", "session-ended")
    idle = reason in ("idle", "idle_timeout", "idle-timeout")
    if signals.raw == 0 and signals.non_raw == 0:
        return DreamScheduleAction.SKIP
    density = signals.density
    if density > 0.15:
        return DreamScheduleAction.IMMEDIATE_BOUNDED
    if session_end and (density >= 0.10 or signals.contradictions > 0):
        return DreamScheduleAction.IMMEDIATE_BOUNDED
    if idle:
        return DreamScheduleAction.DELAYED_ENQUEUE if signals.explicit or signals.derived else DreamScheduleAction.SKIP
    if session_end and (signals.explicit or signals.derived):
        return DreamScheduleAction.IMMEDIATE_BOUNDED
    if not signals.has_digest and signals.raw:
        return DreamScheduleAction.DIGEST_ONLY
    return DreamScheduleAction.DELAYED_ENQUEUE


def adaptive_dream_interval(recent: Sequence[Memory], base_secs: float, min_secs: int = 60,
                            max_secs: int = 1800) -> float:
    """Over the last 100 memories: many contradictions dream sooner, little activity dreams later."""
    window = list(recent)[:100]
    interval = float(base_secs)
    if len(window) < 5:
        interval *= 2.0
    else:
        contradictions = sum(1 for m in window if m.level() is CognitiveLevel.CONTRADICTION)
        if contradictions / len(window) > 0.10:
            interval *= 0.5
    return max(float(min_secs), min(float(max_secs), interval))
