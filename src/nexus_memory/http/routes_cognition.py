"""/api/v1/cognition: digests, the working representation, the dream cycle and an overview (issue 6)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from nexus_memory.domain.agents import validate_agent_name
from nexus_memory.errors import NotFound
from nexus_memory.http.errors import in_field
from nexus_memory.http.schemas import ERROR_RESPONSES

if TYPE_CHECKING:
    from nexus_memory.app import App


class DreamRequest(BaseModel):
    agent_type: str = Field(min_length=1, max_length=128, description="agent namespace, e.g. claude-code")
    session_key: str | None = Field(None, min_length=1, max_length=256,
                                    description="dream over one session (reflect it, force its digest)")


def build_cognition_router(app: App) -> APIRouter:
    router = APIRouter(prefix="/cognition", responses=ERROR_RESPONSES, tags=["cognition"])

    def existing(agent_type: str) -> str:
        agent = in_field("agent_type", lambda: validate_agent_name(agent_type))
        if app.store.get_namespace(agent) is None:
            raise NotFound(f"no memories for agent '{agent}'", hint="see GET /api/v1/namespaces")
        return agent

    @router.get("/digests", summary="The latest short and long digest of an agent or one session")
    def digests(agent_type: str = Query(..., min_length=1, max_length=128),
                session_key: str | None = Query(None, min_length=1, max_length=256)) -> dict[str, Any]:
        return app.cognition.latest_digests(existing(agent_type), session_key).to_dict()

    @router.get("/representation",
                summary="The working representation for a query, with why each item was kept or dropped")
    def representation(
        agent_type: str = Query(..., min_length=1, max_length=128),
        query: str | None = Query(None, max_length=2000),
        observer: str | None = Query(None, min_length=1, max_length=128),
        subject: str | None = Query(None, min_length=1, max_length=128),
        session_key: str | None = Query(None, min_length=1, max_length=256),
        max_items: int = Query(24, ge=4, le=100),
        include_raw: bool = False,
    ) -> dict[str, Any]:
        rep = app.cognition.represent(existing(agent_type), query=query or None, observer=observer,
                                      subject=subject, session_key=session_key, max_items=max_items,
                                      include_raw=include_raw)
        result: dict[str, Any] = rep.to_dict()
        return result

    @router.post("/dream", summary="Run the dream cycle now (bounded by the session-end timeout, 8 s)")
    def dream(body: DreamRequest) -> dict[str, Any]:
        return app.cognition.dream_cycle(
            existing(body.agent_type), body.session_key, reason="http_dream",
            timeout_secs=app.settings.cognition.session_end_dream_timeout_secs).to_dict()

    @router.get("/overview", summary="Job counts, LLM budget, background worker, soul and activity monitor")
    def overview() -> dict[str, Any]:
        cog = app.cognition
        status = cog.subconscious_status(None, app.settings.subconscious_mode).to_dict()
        thread = cog.thread_status()
        return {"jobs": status["jobs"], "llm": cog.llm_status().to_dict(), "soul": status["soul"],
                "monitor": status["monitor"], "worker": thread.to_dict() if thread is not None else None}

    return router
