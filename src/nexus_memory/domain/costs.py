"""What memory costs the agent: one record per injection, and the daily cap per agent (issue 16).

Every time memory text goes to a model (the session pack at session start, prompt recall, an MCP
tool's results) an `Injection` is written down with its tokens, the agent, the session, the
channel, the memory ids and why each was chosen. `nexus stats`, the HTTP API and the dashboard
read them back per day and per session; the hooks read today's total to enforce the cap.

Days are the calendar day of the machine that wrote the record (local time), so a cap resets at
the user's midnight, not at UTC's.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from nexus_memory.errors import ConfigError

SESSION_PACK = "session_pack"
PROMPT_RECALL = "prompt_recall"
MCP_RESULTS = "mcp_results"
CHANNELS: tuple[str, ...] = (SESSION_PACK, PROMPT_RECALL, MCP_RESULTS)
#: Records older than this are dropped (the ledger never grows without bound).
KEEP_DAYS = 90


@dataclass(frozen=True, slots=True)
class Injection:
    agent: str
    channel: str
    tokens: int
    session_key: str = ""
    #: The token budget the injection was filled against (0: none, e.g. an MCP tool's answer).
    budget: int = 0
    project: str | None = None
    #: What asked: the hook event (SessionStart, UserPromptSubmit, ...) or the MCP tool's name.
    source: str = ""
    query: str = ""
    memory_ids: tuple[int, ...] = ()
    #: memory id (as text) -> why it was chosen: coverage, cosine, related, follows, score.
    reasons: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    #: The agent's daily cap was already spent: only the strict bar applied.
    capped: bool = False
    day: str = ""
    recorded_at: datetime | None = None
    id: int | None = None

    def to_dict(self) -> dict[str, Any]:
        from nexus_memory.domain.timeutil import to_iso

        return {
            "id": self.id, "agent_type": self.agent, "session_key": self.session_key, "channel": self.channel,
            "tokens": self.tokens, "budget": self.budget, "project": self.project, "source": self.source,
            "query": self.query, "memory_ids": list(self.memory_ids),
            "reasons": {k: dict(v) for k, v in self.reasons.items()}, "capped": self.capped, "day": self.day,
            "recorded_at": to_iso(self.recorded_at) if self.recorded_at else None,
        }


def local_day(now: datetime | None = None) -> str:
    """The calendar day, local time, as `YYYY-MM-DD`."""
    return (now.astimezone() if now else datetime.now().astimezone()).date().isoformat()


def days_back(today: str, days: int) -> str:
    """The first day of a window of `days` days ending with `today`."""
    return date.fromordinal(date.fromisoformat(today).toordinal() - max(days, 1) + 1).isoformat()


def parse_caps(text: str, *, setting: str = "NEXUS_DAILY_TOKEN_CAPS") -> dict[str, int]:
    """`claude-code=20000,codex=5000` -> {agent: cap}; agent names canonical (claude -> claude-code)."""
    from nexus_memory.domain.agents import canonicalize_agent_type

    caps: dict[str, int] = {}
    for part in text.split(","):
        if not part.strip():
            continue
        name, sep, value = part.partition("=")
        if not sep or not name.strip() or not value.strip().isdigit():
            raise ConfigError(f"{setting}: '{part.strip()}' is not agent=tokens",
                              hint="for example claude-code=20000,codex=5000 (0 turns the cap off for that agent)")
        caps[canonicalize_agent_type(name.strip())] = int(value.strip())
    return caps


def cap_for(agent: str, default: int, overrides: Mapping[str, int]) -> int:
    """The agent's daily cap in tokens; 0 means no cap."""
    return max(0, overrides.get(agent, default))
