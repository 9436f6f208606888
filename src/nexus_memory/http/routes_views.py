"""/api/v1 health, namespaces, stats, charts, injections (what memory costs), sessions and jobs."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Path, Query

from nexus_memory.domain.agents import validate_agent_name
from nexus_memory.domain.enums import JobStatus
from nexus_memory.domain.models import MemoryFilter
from nexus_memory.http.errors import in_field
from nexus_memory.http.schemas import ERROR_RESPONSES

if TYPE_CHECKING:
    from nexus_memory.app import App

JobId = Annotated[int, Path(ge=1, le=2**63 - 1, description="the job's id")]


def build_views_router(app: App) -> APIRouter:
    router = APIRouter(responses=ERROR_RESPONSES)

    @router.get("/health", tags=["system"], summary="Liveness and a few counts")
    def health() -> dict[str, Any]:
        from nexus_memory import __version__

        return {
            "status": "ok",
            "version": __version__,
            "backend": app.store.backend,
            "memories": app.memories.count(MemoryFilter()),
            "cognition": app.has_cognition,
        }

    @router.get("/namespaces", tags=["namespaces"], summary="Agent namespaces with their memory counts")
    def namespaces() -> dict[str, Any]:
        return {"namespaces": [ns.to_dict() for ns in app.memories.namespaces()]}

    @router.get("/stats", tags=["stats"], summary="Counts per agent namespace")
    def stats(agent_type: str | None = Query(None, max_length=128)) -> dict[str, Any]:
        agents = [in_field("agent_type", lambda: validate_agent_name(agent_type))] if agent_type else None
        return {"stats": [s.to_dict() for s in app.memories.stats(agents)]}

    @router.get("/stats/charts", tags=["stats"], summary="Series for charts: per day, agent, category, level")
    def charts(days: int = Query(30, ge=1, le=366)) -> dict[str, Any]:
        return app.overview.charts(days=days).to_dict()

    @router.get("/stats/injections", tags=["stats"],
                summary="Tokens of memory injected per day (against each agent's daily cap) and per session")
    def injection_stats(
        days: int = Query(30, ge=1, le=366),
        agent_type: str | None = Query(None, max_length=128),
        sessions: int = Query(50, ge=1, le=500),
    ) -> dict[str, Any]:
        agent = in_field("agent_type", lambda: validate_agent_name(agent_type)) if agent_type else None
        return app.costs.report(days=days, agent=agent, sessions=sessions).to_dict()

    @router.get("/injections", tags=["stats"],
                summary="What was injected and why: one session's injections (or the latest), oldest first")
    def injections(
        session_key: str | None = Query(None, max_length=512),
        agent_type: str | None = Query(None, max_length=128),
        limit: int = Query(200, ge=1, le=1000),
    ) -> dict[str, Any]:
        agent = in_field("agent_type", lambda: validate_agent_name(agent_type)) if agent_type else None
        items = [i.to_dict() for i in app.costs.injections(session_key, agent=agent, limit=limit)]
        return {"session_key": session_key, "agent_type": agent, "count": len(items), "injections": items}

    @router.get("/sessions", tags=["sessions"], summary="Sessions timeline per agent and project, newest first")
    def sessions(
        agent_type: str | None = Query(None, max_length=128),
        project: str | None = Query(None, max_length=512),
        limit: int = Query(50, ge=1, le=500),
    ) -> dict[str, Any]:
        agent = in_field("agent_type", lambda: validate_agent_name(agent_type)) if agent_type else None
        return {"sessions": [v.to_dict() for v in app.overview.sessions(agent=agent, project=project, limit=limit)]}

    @router.get("/jobs", tags=["jobs"], summary="The cognition job queue (offset pagination)")
    def jobs(
        status: JobStatus | None = None,
        job_type: str | None = Query(None, max_length=64),
        limit: int = Query(50, ge=1, le=500),
        offset: int = Query(0, ge=0, le=10_000_000),
    ) -> dict[str, Any]:
        return app.overview.jobs(status=status.value if status else None, job_type=job_type, limit=limit,
                                 offset=offset).to_dict()

    @router.post("/jobs/{job_id}/retry", tags=["jobs"], summary="Put a failed job back in the queue")
    def retry_job(job_id: JobId) -> dict[str, Any]:
        return app.overview.retry_job(job_id).to_dict()

    return router
