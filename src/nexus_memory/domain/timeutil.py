"""Timestamps: timezone-aware UTC in memory, fixed-width ISO-8601 text in storage.

The stored form (`2026-11-25T12:00:00.000000Z`) sorts lexicographically in time
order, so range filters work on text columns in every backend.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

Clock = Callable[[], datetime]


def utcnow() -> datetime:
    return datetime.now(UTC)


def to_iso(dt: datetime) -> str:
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def from_iso(text: str | None) -> datetime | None:
    """Read any ISO-8601 form we or SQLite wrote (`Z`, offset, space separator)."""
    if not text:
        return None
    t = str(text).strip().replace(" ", "T", 1)
    if t.endswith("Z"):
        t = t[:-1] + "+00:00"
    try:
        dt = datetime.fromisoformat(t)
    except ValueError:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC)


def parse_when(text: str, *, now: datetime | None = None) -> datetime:
    """A user's time bound: ISO date/time, or a relative age like `30m`, `2h`, `7d`, `2w`."""
    from nexus_memory.errors import InvalidInput

    raw = text.strip()
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
    if raw and raw[-1].lower() in units and raw[:-1].isdigit():
        base = now or utcnow()
        try:
            return base - timedelta(seconds=int(raw[:-1]) * units[raw[-1].lower()])
        except (OverflowError, ValueError):
            raise InvalidInput(f"the age '{text[:40]}' reaches before the year 1",
                               hint="give a smaller age such as 30d, or an ISO date") from None
    parsed = from_iso(raw)
    if parsed is None:
        raise InvalidInput(
            f"cannot read the time '{text}'",
            hint="give an ISO date such as 2026-11-25 or 2026-11-25T14:00:00Z, or an age such as 2h, 7d",
        )
    return parsed
