"""The 16 MCP tools (upstream names and input fields), as plain methods over the services.

Cognition tools are served by whatever object the composition root registers as
`app.extras["cognition"]`: a method with the tool's name, taking the tool's fields as
keyword arguments and returning a JSON-able dict. Until one is registered they return
a "not available yet" tool error (never made-up data). `explain_memory_lineage` falls
back to the stored lineage, which exists already.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any, Literal, TypeVar

from pydantic import Field

from nexus_memory.domain.agents import validate_agent_name
from nexus_memory.domain.enums import CognitiveLevel, MemoryCategory, SearchMode
from nexus_memory.domain.models import MemoryFilter
from nexus_memory.errors import InvalidInput, NexusError, NotAvailable
from nexus_memory.mcp.descriptions import COGNITION_TOOLS, TOOL_DESCRIPTIONS
from nexus_memory.services.memories import StoreRequest
from nexus_memory.services.search import SearchQuery

if TYPE_CHECKING:
    from nexus_memory.app import App

Category = Literal["general", "facts", "preferences", "context", "specifications", "session"]
Level = Literal["raw", "explicit", "derived", "summary_short", "summary_long", "contradiction"]
DigestKind = Literal["short", "long", "both"]
AgentType = Annotated[str | None, Field(description="agent namespace, e.g. claude-code; omit for the default")]

F = TypeVar("F", bound=Callable[..., Any])


def error_text(exc: NexusError) -> str:
    """One line for the model: what went wrong, then what to do."""
    return f"{exc.message}. What to do: {exc.hint}" if exc.hint else exc.message


def tool_errors(fn: F) -> F:
    """Turn a NexusError into the SDK's anticipated tool error (is_error with our message)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from mcp.server.mcpserver.exceptions import ToolError

        try:
            return fn(*args, **kwargs)
        except NexusError as exc:
            raise ToolError(error_text(exc)) from None

    return wrapper  # type: ignore[return-value]


def _agent(agent_type: str | None) -> str | None:
    return validate_agent_name(agent_type) if agent_type and agent_type.strip() else None


class NexusTools:
    """One method per tool; the method name is the tool name."""

    def __init__(self, app: App, schemas: Callable[[], dict[str, dict[str, Any]]] | None = None) -> None:
        self.app = app
        self._schemas = schemas or dict

    # helpers -------------------------------------------------------------------
    def _cognition(self, name: str, **kwargs: Any) -> dict[str, Any]:
        engine = self.app.extras.get("cognition")
        handler = getattr(engine, name, None) if engine is not None else None
        if handler is None:
            raise NotAvailable(
                f"{name} is not available yet: the cognition engine (dream cycle) is not running in this server",
                hint="use search_memories or list_memories instead; nothing was changed",
            )
        result = handler(**kwargs)
        return dict(result) if not isinstance(result, dict) else result

    # memories ------------------------------------------------------------------
    @tool_errors
    def store_memory(
        self,
        content: Annotated[str, Field(description="the text to remember", min_length=1, max_length=200_000)],
        agent_type: AgentType = None,
        category: Category = "general",
        labels: Annotated[list[str] | None, Field(description="short tags, e.g. ['api', 'decision']")] = None,
        metadata: Annotated[dict[str, Any] | None, Field(description="extra JSON object kept with it")] = None,
    ) -> dict[str, Any]:
        outcome = self.app.memories.store(StoreRequest(
            content=content, agent=_agent(agent_type), category=category, labels=tuple(labels or ()),
            metadata=metadata, source_stage="mcp",
        ))
        return {"id": outcome.memory.id, "created": outcome.created, "merged": not outcome.created,
                "memory": outcome.memory.to_dict()}

    @tool_errors
    def search_memories(
        self,
        query: Annotated[str, Field(description="words to search for", min_length=1, max_length=2000)],
        agent_type: Annotated[str | None, Field(description="only this agent; omit to search every agent")] = None,
        limit: Annotated[int, Field(ge=1, le=100)] = 10,
        threshold: Annotated[float, Field(
            ge=0.0, le=1.0,
            description="drop hits scoring below this fraction of the best hit's score (0 keeps all)")] = 0.0,
    ) -> dict[str, Any]:
        agent = _agent(agent_type)
        hits = self.app.search.search(SearchQuery(
            text=query, filter=MemoryFilter(agents=(agent,) if agent else None), limit=limit, mode=SearchMode.HYBRID,
        ))
        top = max((h.score for h in hits), default=0.0)
        if threshold > 0 and top > 0:
            hits = [h for h in hits if h.score / top >= threshold]
        return {"query": query, "count": len(hits), "results": [h.to_dict() for h in hits]}

    @tool_errors
    def get_memory(self, memory_id: Annotated[int, Field(ge=1)]) -> dict[str, Any]:
        return self.app.memories.get(memory_id, touch=True).to_dict()

    @tool_errors
    def list_memories(
        self,
        agent_type: Annotated[str | None, Field(description="only this agent; omit for every agent")] = None,
        category: Category | None = None,
        limit: Annotated[int, Field(ge=1, le=1000)] = 50,
        offset: Annotated[int, Field(ge=0)] = 0,
    ) -> dict[str, Any]:
        agent = _agent(agent_type)
        flt = MemoryFilter(agents=(agent,) if agent else None,
                           categories=(MemoryCategory.parse(category),) if category else None)
        items = self.app.memories.list_memories(flt, limit=limit, offset=offset)
        total = self.app.memories.count(flt)
        return {
            "memories": [m.to_dict() for m in items], "total": total, "limit": limit, "offset": offset,
            "next_offset": offset + limit if offset + limit < total else None,
        }

    @tool_errors
    def delete_memory(self, memory_id: Annotated[int, Field(ge=1)]) -> dict[str, Any]:
        self.app.memories.delete(memory_id)
        return {"deleted": True, "id": memory_id}

    @tool_errors
    def list_namespaces(self) -> dict[str, Any]:
        return {"namespaces": self.app.memories.namespaces()}

    @tool_errors
    def get_stats(self, agent_type: Annotated[str | None, Field(description="omit for every agent")] = None
                  ) -> dict[str, Any]:
        agent = _agent(agent_type)
        return {"stats": [s.to_dict() for s in self.app.memories.stats([agent] if agent else None)]}

    # cognition -----------------------------------------------------------------
    @tool_errors
    def get_session_digest(
        self,
        session_key: Annotated[str, Field(min_length=1, description="the session's key")],
        agent_type: AgentType = None,
        digest_kind: DigestKind = "both",
    ) -> dict[str, Any]:
        return self._cognition("get_session_digest", agent_type=_agent(agent_type), session_key=session_key,
                               digest_kind=digest_kind)

    @tool_errors
    def run_reflective_cycle(self, agent_type: AgentType = None, session_key: str | None = None) -> dict[str, Any]:
        return self._cognition("run_reflective_cycle", agent_type=_agent(agent_type), session_key=session_key)

    @tool_errors
    def explain_memory_lineage(self, memory_id: Annotated[int, Field(ge=1)]) -> dict[str, Any]:
        engine = self.app.extras.get("cognition")
        if engine is not None and hasattr(engine, "explain_memory_lineage"):
            return self._cognition("explain_memory_lineage", memory_id=memory_id)
        return self.app.overview.lineage(memory_id)

    @tool_errors
    def build_working_representation(
        self,
        agent_type: Annotated[str, Field(min_length=1, description="agent namespace, e.g. claude-code")],
        query: str | None = None,
        observer: str | None = None,
        subject: str | None = None,
        session_key: str | None = None,
        max_items: Annotated[int, Field(ge=4, le=100)] = 24,
        include_raw: bool = False,
        include_digests: bool = True,
        include_derived: bool = True,
        include_contradictions: bool = True,
    ) -> dict[str, Any]:
        return self._cognition(
            "build_working_representation", agent_type=_agent(agent_type), query=query, observer=observer,
            subject=subject, session_key=session_key, max_items=max_items, include_raw=include_raw,
            include_digests=include_digests, include_derived=include_derived,
            include_contradictions=include_contradictions,
        )

    @tool_errors
    def search_perspective_memories(
        self,
        observer: Annotated[str, Field(min_length=1)],
        subject: Annotated[str, Field(min_length=1)],
        agent_type: AgentType = None,
        session_key: str | None = None,
        cognitive_level: Level | None = None,
        limit: Annotated[int, Field(ge=1, le=100)] = 20,
    ) -> dict[str, Any]:
        level = CognitiveLevel.parse(cognitive_level).value if cognitive_level else None
        return self._cognition(
            "search_perspective_memories", agent_type=_agent(agent_type), observer=observer, subject=subject,
            session_key=session_key, cognitive_level=level, limit=limit,
        )

    @tool_errors
    def derive_observations(
        self,
        memory_id: Annotated[int, Field(ge=1)],
        agent_type: AgentType = None,
        observer: str | None = None,
        subject: str | None = None,
        session_key: str | None = None,
    ) -> dict[str, Any]:
        self.app.memories.get(memory_id)
        return self._cognition("derive_observations", memory_id=memory_id, agent_type=_agent(agent_type),
                               observer=observer, subject=subject, session_key=session_key)

    # system ----------------------------------------------------------------------
    @tool_errors
    def initialize_nexus_system(self) -> dict[str, Any]:
        from nexus_memory import __version__

        app = self.app
        engine = app.extras.get("cognition")
        return {
            "ready": True,
            "version": __version__,
            "backend": app.store.backend,
            "default_agent": app.memories.default_agent,
            "total_memories": app.memories.count(MemoryFilter(include_raw=True)),
            "namespaces": app.memories.namespaces(),
            "cognition_available": sorted(t for t in COGNITION_TOOLS if engine is not None and hasattr(engine, t))
            + ([] if engine is not None and hasattr(engine, "explain_memory_lineage")
               else ["explain_memory_lineage"]),
            "tools": sorted(TOOL_DESCRIPTIONS),
        }

    @tool_errors
    def tool_help(self, tool_name: str | None = None) -> dict[str, Any]:
        if tool_name is None:
            return {"tools": {name: text.split("\n", 1)[0] for name, text in sorted(TOOL_DESCRIPTIONS.items())}}
        return {"tool": tool_name, "description": TOOL_DESCRIPTIONS[_known(tool_name)]}

    @tool_errors
    def tool_schema(self, tool_name: str | None = None) -> dict[str, Any]:
        schemas = self._schemas()
        if tool_name is None:
            return {"schemas": schemas}
        return {"tool": tool_name, "input_schema": schemas[_known(tool_name)]}


def _known(name: str) -> str:
    if name not in TOOL_DESCRIPTIONS:
        raise InvalidInput(f"unknown tool '{name}'", hint=f"use one of: {', '.join(sorted(TOOL_DESCRIPTIONS))}")
    return name


TOOL_NAMES: tuple[str, ...] = tuple(TOOL_DESCRIPTIONS)
