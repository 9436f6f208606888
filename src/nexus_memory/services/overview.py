"""OverviewService: read-only views that the MCP server, the HTTP API and the dashboard share.

Sessions timeline (from the runtime's lifecycle markers and live state files), chart
series (per day, agent, category, level), the job queue, and a system summary. The
surfaces only render what these return, so every surface shows the same numbers.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from nexus_memory.domain.enums import JobStatus, MemoryCategory
from nexus_memory.domain.models import Job, Memory, MemoryFilter
from nexus_memory.domain.timeutil import to_iso
from nexus_memory.errors import InvalidInput
from nexus_memory.runtime.controller import RuntimeController
from nexus_memory.storage.base import Store

#: Lifecycle markers are session-category memories carrying this label (runtime/markers.py).
MARKER_LABEL = "runtime"


@dataclass(frozen=True, slots=True)
class SessionView:
    """One (agent, session key): its lifecycle events and whether the runtime holds it open."""

    agent_type: str
    session_key: str
    project: str | None
    cwd: str | None
    started_at: str | None
    ended_at: str | None
    last_event_at: str | None
    active: bool
    events: list[dict[str, Any]]

    def to_dict(self) -> dict[str, Any]:
        return {f: getattr(self, f) for f in self.__slots__}


@dataclass(frozen=True, slots=True)
class Charts:
    """The dashboard's series: memories per day, per agent, per category, per cognitive level."""

    per_day: dict[str, int]
    per_agent: dict[str, int]
    per_category: dict[str, int]
    per_level: dict[str, int]
    total_memories: int
    active_memories: int
    archived_memories: int

    def to_dict(self) -> dict[str, Any]:
        return {f: getattr(self, f) for f in self.__slots__}


@dataclass(frozen=True, slots=True)
class JobPage:
    """One page of jobs (each with its agent), the counts by status, and where the next page starts."""

    items: list[dict[str, Any]]
    counts: dict[str, int]
    limit: int
    offset: int
    next_offset: int | None

    def to_dict(self) -> dict[str, Any]:
        return {f: getattr(self, f) for f in self.__slots__}


class OverviewService:
    def __init__(self, store: Store, controller: RuntimeController) -> None:
        self.db = store
        self.controller = controller

    # sessions -------------------------------------------------------------------
    def sessions(self, *, agent: str | None = None, project: str | None = None, limit: int = 50) -> list[SessionView]:
        """Sessions newest first: one entry per (agent, session key) with its lifecycle events."""
        if not 1 <= limit <= 500:
            raise InvalidInput(f"limit {limit} is out of range", hint="use 1 to 500")
        flt = MemoryFilter(
            agents=(agent,) if agent else None,
            categories=(MemoryCategory.SESSION,),
            labels=(MARKER_LABEL,),
            include_archived=True,
            include_inactive=True,
            include_bookkeeping=True,
        )
        markers = self.db.list_memories(flt, limit=5000, order="oldest")
        sessions: dict[tuple[str, str], dict[str, Any]] = {}
        for m in markers:
            entry = self._session_entry(sessions, m)
            if entry is None:
                continue
            raw = m.metadata.get("runtime")
            runtime: dict[str, Any] = raw if isinstance(raw, dict) else {}
            event = str(runtime.get("event") or "event")
            at = to_iso(m.created_at) if m.created_at else None
            entry["events"].append({"event": event, "detail": runtime.get("detail"), "at": at, "memory_id": m.id})
            entry["project"] = entry["project"] or runtime.get("project_name")
            entry["cwd"] = entry["cwd"] or runtime.get("cwd")
            if event.endswith("session_start") and not entry["started_at"]:
                entry["started_at"] = at
            if event.endswith("session_end") or event.endswith("shutdown"):
                entry["ended_at"] = at
            entry["last_event_at"] = at
        for status in self.controller.sessions():
            st = status.state
            key = (st.agent_type, st.session_key)
            entry = sessions.setdefault(key, _blank(st.agent_type, st.session_key))
            entry["active"] = not status.expired
            entry["started_at"] = entry["started_at"] or to_iso(st.started_at)
            entry["last_event_at"] = to_iso(st.updated_at)
        out = list(sessions.values())
        if agent:
            out = [s for s in out if s["agent_type"] == agent]
        if project:
            out = [s for s in out if (s["project"] or "") == project]
        out.sort(key=lambda s: s["last_event_at"] or "", reverse=True)
        return [SessionView(**s) for s in out[:limit]]

    @staticmethod
    def _session_entry(sessions: dict[tuple[str, str], dict[str, Any]], m: Memory) -> dict[str, Any] | None:
        if not m.session_key or not m.agent:
            return None
        return sessions.setdefault((m.agent, m.session_key), _blank(m.agent, m.session_key))

    # charts ---------------------------------------------------------------------
    def charts(self, *, days: int = 30) -> Charts:
        """Series for the dashboard: memories per day, per agent, per category, per cognitive level."""
        if not 1 <= days <= 366:
            raise InvalidInput(f"days {days} is out of range", hint="use 1 to 366")
        stats = self.db.stats()
        per_category: Counter[str] = Counter()
        per_level: Counter[str] = Counter()
        for s in stats:
            per_category.update(s.categories)
            per_level.update(s.levels)
        return Charts(
            per_day=self.db.daily_counts(days=days),
            per_agent={s.namespace_name: s.active_memories for s in stats},
            per_category=dict(per_category),
            per_level=dict(per_level),
            total_memories=sum(s.total_memories for s in stats),
            active_memories=sum(s.active_memories for s in stats),
            archived_memories=sum(s.archived_memories for s in stats),
        )

    # jobs -----------------------------------------------------------------------
    def jobs(self, *, status: str | None = None, job_type: str | None = None, limit: int = 50,
             offset: int = 0) -> JobPage:
        if not 1 <= limit <= 500:
            raise InvalidInput(f"limit {limit} is out of range", hint="use 1 to 500")
        if offset < 0:
            raise InvalidInput(f"offset {offset} is negative", hint="use 0 or more")
        status_value = JobStatus.parse(status).value if status else None
        items = self.db.list_jobs(status=status_value, job_type=job_type, limit=limit, offset=offset)
        names = {ns.id: ns.name for ns in self.db.list_namespaces()}
        return JobPage(
            items=[{**j.to_dict(), "agent_type": names.get(j.namespace_id)} for j in items],
            counts=self.db.count_jobs_by_status(),
            limit=limit,
            offset=offset,
            next_offset=offset + limit if len(items) == limit else None,
        )

    def retry_job(self, job_id: int) -> Job:
        """A failed job back to pending; Conflict when it is not failed, NotFound when missing."""
        return self.db.retry_job(job_id)


def _blank(agent: str, session_key: str) -> dict[str, Any]:
    return {
        "agent_type": agent, "session_key": session_key, "project": None, "cwd": None,
        "started_at": None, "ended_at": None, "last_event_at": None, "active": False, "events": [],
    }
