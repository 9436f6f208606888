"""The injection ledger (issue 16, what memory costs) in SQL shared by both backends.

One row per injection. The hooks' cap check is `injected_tokens`: one sum over the covering
index (agent, day, tokens), never a scan of the table. Reads for `nexus stats`, the HTTP API
and the dashboard group by day, channel and session.
"""

from __future__ import annotations

from typing import Any

from nexus_memory.domain.costs import KEEP_DAYS, Injection, days_back
from nexus_memory.domain.timeutil import utcnow
from nexus_memory.storage.sql.dialect import SQLBackend

_COLUMNS = ("recorded_at, day, agent, session_key, channel, tokens, budget, project, source, query, memory_ids, "
            "reasons, capped")


class SQLInjectionsMixin(SQLBackend):
    def record_injection(self, inj: Injection) -> int:
        d = self.dialect
        now = inj.recorded_at or utcnow()
        with self.write() as conn:
            new_id = d.insert_id(conn, f"INSERT INTO injections({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", (
                d.time(now), inj.day, inj.agent, inj.session_key, inj.channel, int(inj.tokens), int(inj.budget),
                inj.project, inj.source[:200], inj.query[:500], d.json([int(i) for i in inj.memory_ids]),
                d.json({str(k): dict(v) for k, v in inj.reasons.items()}), d.boolean(inj.capped)))
            if new_id % 100 == 0:  # now and then, drop what is past its age
                d.execute(conn, "DELETE FROM injections WHERE day < ?", (days_back(inj.day, KEEP_DAYS),))
        return new_id

    def injected_tokens(self, agent: str, day: str) -> int:
        """Tokens injected for `agent` on `day` (the cap check: one covering-index sum)."""
        row = self._row("SELECT coalesce(sum(tokens), 0) AS total FROM injections WHERE agent = ? AND day = ?",
                        (agent, day))
        return int(row["total"]) if row else 0

    def injection_days(self, since_day: str, agent: str | None = None) -> list[dict[str, Any]]:
        """Per (day, agent, channel): tokens, injections, memories and how many were capped."""
        where, params = _since(since_day, agent)
        rows = self._rows(
            f"SELECT day, agent, channel, {self._totals()} FROM injections WHERE {where} "
            "GROUP BY day, agent, channel ORDER BY day, agent, channel", params)
        return [{"day": r["day"], "agent_type": r["agent"], "channel": r["channel"], "tokens": int(r["tokens"]),
                 "injections": int(r["injections"]), "capped": int(r["capped"])} for r in rows]

    def injection_sessions(self, since_day: str, agent: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
        """Per (agent, session): tokens against the budgets offered, newest session first."""
        where, params = _since(since_day, agent)
        rows = self._rows(
            f"SELECT agent, session_key, {self._totals()}, sum(budget) AS budget, min(recorded_at) AS first_at, "
            "max(recorded_at) AS last_at, max(id) AS last_id, max(project) AS project "
            f"FROM injections WHERE {where} GROUP BY agent, session_key ORDER BY last_id DESC LIMIT ?",
            [*params, int(limit)])
        from nexus_memory.domain.timeutil import to_iso

        out = []
        for r in rows:
            first, last = self.dialect.time_out(r["first_at"]), self.dialect.time_out(r["last_at"])
            out.append({"agent_type": r["agent"], "session_key": r["session_key"], "tokens": int(r["tokens"]),
                        "budget": int(r["budget"]), "injections": int(r["injections"]), "capped": int(r["capped"]),
                        "project": r["project"], "first_at": to_iso(first) if first else None,
                        "last_at": to_iso(last) if last else None})
        return out

    def injections(self, *, session_key: str | None = None, agent: str | None = None,
                   limit: int = 200) -> list[Injection]:
        """The injections themselves (what, why), oldest first: one session's, or the latest."""
        conds, params = [], []
        if session_key is not None:
            conds.append("session_key = ?")
            params.append(session_key)
        if agent:
            conds.append("agent = ?")
            params.append(agent)
        where = " AND ".join(conds) or "1 = 1"
        rows = self._rows(f"SELECT id, {_COLUMNS} FROM injections WHERE {where} ORDER BY id DESC LIMIT ?",
                          [*params, int(limit)])
        return [self._injection(r) for r in reversed(rows)]

    def _totals(self) -> str:
        return (f"sum(tokens) AS tokens, count(*) AS injections, "
                f"sum(CASE WHEN {self.dialect.is_true('capped')} THEN 1 ELSE 0 END) AS capped")

    def _injection(self, r: Any) -> Injection:
        d = self.dialect
        ids: list[int] = []
        for raw in d.json_list(r["memory_ids"]):
            try:
                ids.append(int(raw))
            except (TypeError, ValueError):
                continue
        reasons = {str(k): v for k, v in d.json_obj(r["reasons"]).items() if isinstance(v, dict)}
        return Injection(agent=r["agent"], channel=r["channel"], tokens=int(r["tokens"]), session_key=r["session_key"],
                         budget=int(r["budget"]), project=r["project"], source=r["source"], query=r["query"],
                         memory_ids=tuple(ids), reasons=reasons, capped=bool(r["capped"]), day=r["day"],
                         recorded_at=d.time_out(r["recorded_at"]), id=int(r["id"]))


def _since(since_day: str, agent: str | None) -> tuple[str, list[Any]]:
    if agent:
        return "day >= ? AND agent = ?", [since_day, agent]
    return "day >= ?", [since_day]
