"""CostService: what memory costs each agent (issue 16, part 3), for every surface.

`record` writes an injection down; `state` answers the hooks' question "is this agent's daily cap
spent?" with one indexed sum; `report` and `session` feed `nexus stats`, the HTTP API and the
dashboard. Recording never breaks an injection: a failure is the caller's to log.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, NamedTuple

from nexus_memory.domain.costs import CHANNELS, Injection, cap_for, days_back, local_day, parse_caps
from nexus_memory.errors import InvalidInput
from nexus_memory.storage.base import Store


class CapState(NamedTuple):  # a tuple: built for a fraction of a frozen dataclass's cost
    """Today's spend of one agent against its cap (cap 0: no cap)."""

    agent: str
    used: int
    cap: int

    def allows(self, budget: int) -> bool:
        """Whether a whole injection of `budget` tokens still fits under today's cap (always without
        one). An injection is never cut to fit: what does not fit waits for tomorrow."""
        return self.cap <= 0 or self.used + budget <= self.cap


class CostReport(NamedTuple):  # a tuple: built for a fraction of a frozen dataclass's cost
    """Tokens per day (per agent and channel, against each agent's cap) and per session."""

    today: str
    since: str
    days: int
    per_day: list[dict[str, Any]]
    caps: dict[str, int]
    default_cap: int
    today_by_agent: dict[str, int]
    sessions: list[dict[str, Any]]

    def to_dict(self) -> dict[str, Any]:
        return {"today": self.today, "since": self.since, "days": self.days, "per_day": self.per_day,
                "caps": self.caps, "default_cap": self.default_cap, "today_by_agent": self.today_by_agent,
                "sessions": self.sessions}


class CostService:
    def __init__(self, store: Store, *, daily_cap: int = 0, caps: str | Mapping[str, int] = "") -> None:
        self.store = store
        self.daily_cap = daily_cap
        self.caps = parse_caps(caps) if isinstance(caps, str) else dict(caps)

    def cap(self, agent: str) -> int:
        return cap_for(agent, self.daily_cap, self.caps)

    def state(self, agent: str, *, day: str | None = None) -> CapState:
        cap = self.cap(agent)
        used = self.store.injected_tokens(agent, day or local_day()) if cap > 0 else 0
        return CapState(agent, used, cap)

    def record(self, *, agent: str, channel: str, tokens: int, ids: Iterable[int], session_key: str = "",
               budget: int = 0, project: str | None = None, source: str = "", query: str = "",
               reasons: Mapping[Any, Mapping[str, float]] | None = None, capped: bool = False) -> int | None:
        """Write one injection down; None when nothing was injected. The query is redacted here (a
        hook's prompt already is; an MCP client's search words may hold anything)."""
        memory_ids = tuple(int(i) for i in ids)
        if not memory_ids or tokens <= 0:
            return None
        if query:
            from nexus_memory.domain.redaction import redact_text

            query = redact_text(query[:500])
        return self.store.record_injection(Injection(
            agent=agent, channel=channel, tokens=int(tokens), session_key=session_key or "", budget=int(budget),
            project=project, source=source, query=query, memory_ids=memory_ids,
            reasons={str(k): dict(v) for k, v in (reasons or {}).items()}, capped=capped, day=local_day()))

    def report(self, *, days: int = 7, agent: str | None = None, sessions: int = 20,
               agents: Sequence[str] = ()) -> CostReport:
        """Tokens per day (per agent and channel, against each agent's cap) and per session (against
        the budgets the injections were filled to). `agent`, or several `agents`: only theirs."""
        if not 1 <= days <= 366:
            raise InvalidInput(f"days {days} is out of range", hint="use 1 to 366")
        if not 1 <= sessions <= 500:
            raise InvalidInput(f"sessions {sessions} is out of range", hint="use 1 to 500")
        today = local_day()
        since = days_back(today, days)
        wanted = set(agents) | ({agent} if agent else set())
        one = next(iter(wanted)) if len(wanted) == 1 else None
        rows = [r for r in self.store.injection_days(since, one) if not wanted or r["agent_type"] in wanted]
        per_day: dict[str, dict[str, Any]] = {}
        for r in rows:
            entry = per_day.setdefault(r["day"], {"day": r["day"], "tokens": 0, "injections": 0, "capped": 0,
                                                  "channels": dict.fromkeys(CHANNELS, 0), "agents": {}})
            entry["tokens"] += r["tokens"]
            entry["injections"] += r["injections"]
            entry["capped"] += r["capped"]
            entry["channels"][r["channel"]] = entry["channels"].get(r["channel"], 0) + r["tokens"]
            entry["agents"][r["agent_type"]] = entry["agents"].get(r["agent_type"], 0) + r["tokens"]
        shown = sorted({r["agent_type"] for r in rows} | wanted)
        per_session = [s for s in self.store.injection_sessions(since, one, limit=sessions if one or not wanted else 500)
                       if not wanted or s["agent_type"] in wanted][:sessions]
        return CostReport(
            today=today, since=since, days=days, per_day=[per_day[d] for d in sorted(per_day)],
            caps={a: self.cap(a) for a in shown}, default_cap=self.daily_cap,
            today_by_agent={a: sum(r["tokens"] for r in rows if r["day"] == today and r["agent_type"] == a)
                            for a in shown},
            sessions=per_session,
        )

    def injections(self, session_key: str | None = None, *, agent: str | None = None,
                   limit: int = 200) -> list[Injection]:
        """One session's injections (or the latest): what went in (ids, tokens, channel) and why
        (reasons), oldest first."""
        if not 1 <= limit <= 1000:
            raise InvalidInput(f"limit {limit} is out of range", hint="use 1 to 1000")
        return list(self.store.injections(session_key=session_key, agent=agent, limit=limit))
