"""The 16 MCP tools (upstream names and input fields), as plain methods over the services.

The six cognition tools call the CognitionService the composition root registers as
`app.cognition` (dream cycle, digests, lineage, working representation).
When none is registered (an App built without it) they return a clear "not available
yet" tool error, never made-up data.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any, Literal, TypeVar

from mcp.server.mcpserver import Context
from pydantic import Field

from nexus_memory.domain.agents import validate_agent_name
from nexus_memory.domain.enums import MemoryCategory, SearchMode
from nexus_memory.domain.models import MemoryFilter, PerspectiveKey
from nexus_memory.errors import InvalidInput, NexusError, NotAvailable, NotFound
from nexus_memory.mcp.descriptions import TOOL_DESCRIPTIONS
from nexus_memory.mcp.ledger import ResultLedger, ids_in, why
from nexus_memory.services.memories import StoreRequest
from nexus_memory.services.search import SearchQuery

if TYPE_CHECKING:
    from nexus_memory.app import App
    from nexus_memory.services.cognition import CognitionService

Category = Literal["general", "facts", "preferences", "context", "specifications", "session"]
Level = Literal["raw", "explicit", "derived", "summary_short", "summary_long", "contradiction"]
DigestKind = Literal["short", "long", "both"]
AgentType = Annotated[str | None, Field(description="agent namespace, e.g. claude-code; omit for the default")]
MAX_ID = 2**63 - 1
MemoryId = Annotated[int, Field(ge=1, le=MAX_ID, description="the memory's id")]

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
        except Exception as exc:  # never a bare "Error executing tool": say what broke, once, in one line
            import logging

            logging.getLogger(__name__).warning("tool %s failed: %s: %s", fn.__name__, type(exc).__name__, exc)
            raise ToolError(f"internal error in {fn.__name__} ({type(exc).__name__}: {str(exc)[:300]}). "
                            "What to do: check the arguments; if they are right, report this") from None

    return wrapper  # type: ignore[return-value]


def _agent(agent_type: str | None) -> str | None:
    return validate_agent_name(agent_type) if agent_type and agent_type.strip() else None


class NexusTools:
    """One method per tool; the method name is the tool name."""

    def __init__(self, app: App, schemas: Callable[[], dict[str, dict[str, Any]]] | None = None) -> None:
        self.app = app
        self._schemas = schemas or dict
        self.ledger = ResultLedger(app)

    # helpers -------------------------------------------------------------------
    def _engine(self, name: str) -> CognitionService:
        """The cognition service, or a clear "not available yet" when none is registered."""
        if not self.app.has_cognition:
            raise NotAvailable(
                f"{name} is not available yet: the cognition engine (dream cycle) is not running in this server",
                hint="use search_memories or list_memories instead; nothing was changed",
            )
        return self.app.cognition

    def _default_agent(self, agent_type: str | None) -> str:
        return _agent(agent_type) or self.app.memories.default_agent

    def _existing_agent(self, agent_type: str | None) -> str:
        """Reads must not create namespaces: a typo in agent_type is an error, not a new empty agent."""
        agent = self._default_agent(agent_type)
        if self.app.store.get_namespace(agent) is None:
            raise NotFound(f"no memories for agent '{agent}'", hint="see list_namespaces for the agent_type values")
        return agent

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
        mode: Annotated[Literal["hybrid", "bm25", "vector"], Field(
            description="hybrid (BM25 + vectors; BM25 alone when no embedding model is available), bm25 or vector"
        )] = "hybrid",
        explain: Annotated[bool, Field(description="include every ranking component of each hit")] = False,
        include_raw: Annotated[bool, Field(
            description="episodes too (tool runs with their output, transcript turns), ranked below the memories "
                        "derived from them")] = True,
        ctx: Context | None = None,
    ) -> dict[str, Any]:
        agent = _agent(agent_type)
        outcome = self.app.search.run(SearchQuery(
            text=query, filter=MemoryFilter(agents=(agent,) if agent else None, include_raw=include_raw), limit=limit,
            mode=SearchMode.parse(mode), explain=explain,
        ))
        hits = outcome.hits
        top = max((h.score for h in hits), default=0.0)
        if threshold > 0 and top > 0:
            hits = [h for h in hits if h.score / top >= threshold]
        out: dict[str, Any] = {"query": query, "mode": outcome.mode.value, "count": len(hits),
                               "results": [h.to_dict(explain=explain) for h in hits]}
        if outcome.note:
            out["note"] = outcome.note
        self.ledger.record(ctx, "search_memories", out, [h.memory.id for h in hits], query=query,
                           reasons={h.memory.id: why(h.score, h.components) for h in hits})
        return out

    @tool_errors
    def get_memory(self, memory_id: MemoryId, ctx: Context | None = None) -> dict[str, Any]:
        out: dict[str, Any] = self.app.memories.get(memory_id, touch=True).to_dict()
        self.ledger.record(ctx, "get_memory", out, [memory_id])
        return out

    @tool_errors
    def list_memories(
        self,
        agent_type: Annotated[str | None, Field(description="only this agent; omit for every agent")] = None,
        category: Category | None = None,
        limit: Annotated[int, Field(ge=1, le=1000)] = 50,
        offset: Annotated[int, Field(ge=0, le=MAX_ID)] = 0,
        ctx: Context | None = None,
    ) -> dict[str, Any]:
        agent = _agent(agent_type)
        flt = MemoryFilter(agents=(agent,) if agent else None,
                           categories=(MemoryCategory.parse(category),) if category else None)
        items = self.app.memories.list_memories(flt, limit=limit, offset=offset)
        total = self.app.memories.count(flt)
        out = {
            "memories": [m.to_dict() for m in items], "total": total, "limit": limit, "offset": offset,
            "next_offset": offset + limit if offset + limit < total else None,
        }
        self.ledger.record(ctx, "list_memories", out, [m.id for m in items])
        return out

    @tool_errors
    def delete_memory(self, memory_id: MemoryId) -> dict[str, Any]:
        self.app.memories.delete(memory_id)
        return {"deleted": True, "id": memory_id}

    @tool_errors
    def list_namespaces(self) -> dict[str, Any]:
        return {"namespaces": [ns.to_dict() for ns in self.app.memories.namespaces()]}

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
        engine = self._engine("get_session_digest")
        latest = engine.latest_digests(self._existing_agent(agent_type), session_key)
        kinds = ("short", "long") if digest_kind == "both" else (digest_kind,)
        if all(latest.get(kind) is None for kind in kinds):
            raise NotFound(
                f"no {digest_kind if digest_kind != 'both' else ''} digest exists for session '{session_key}' yet"
                .replace("  ", " "),
                hint="digests are written when a session ends; run run_reflective_cycle with this session_key "
                     "to write one now",
            )
        return {k: v for k, v in latest.to_dict().items() if k not in ("short", "long") or k in kinds}

    @tool_errors
    def run_reflective_cycle(self, agent_type: AgentType = None, session_key: str | None = None) -> dict[str, Any]:
        engine = self._engine("run_reflective_cycle")
        timeout = self.app.settings.cognition.session_end_dream_timeout_secs
        return engine.dream_cycle(self._existing_agent(agent_type), session_key or None,
                                  reason="mcp_reflective_cycle", timeout_secs=timeout).to_dict()

    @tool_errors
    def explain_memory_lineage(self, memory_id: MemoryId) -> dict[str, Any]:
        return self._engine("explain_memory_lineage").lineage(memory_id).to_dict()

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
        ctx: Context | None = None,
    ) -> dict[str, Any]:
        engine = self._engine("build_working_representation")
        rep = engine.represent(
            self._existing_agent(agent_type), query=query or None, observer=observer or None,
            subject=subject or None, session_key=session_key or None, max_items=max_items, include_raw=include_raw,
            include_digests=include_digests, include_derived=include_derived,
            include_contradictions=include_contradictions,
        )
        result: dict[str, Any] = rep.to_dict()
        self.ledger.record(ctx, "build_working_representation", result, ids_in(result), query=query or "",
                           session=session_key)
        return result

    @tool_errors
    def search_perspective_memories(
        self,
        observer: Annotated[str, Field(min_length=1)],
        subject: Annotated[str, Field(min_length=1)],
        agent_type: AgentType = None,
        session_key: str | None = None,
        cognitive_level: Level | None = None,
        limit: Annotated[int, Field(ge=1, le=100)] = 20,
        ctx: Context | None = None,
    ) -> dict[str, Any]:
        engine = self._engine("search_perspective_memories")
        agent = self._existing_agent(agent_type)
        memories = engine.perspective_memories(agent, observer, subject, session_key=session_key or None,
                                               level=cognitive_level, limit=limit)
        out = {"agent_type": agent, "observer": observer, "subject": subject, "session_key": session_key,
               "count": len(memories), "memories": [m.to_dict() for m in memories]}
        self.ledger.record(ctx, "search_perspective_memories", out, [m.id for m in memories],
                           query=f"{observer} -> {subject}", session=session_key)
        return out

    @tool_errors
    def derive_observations(
        self,
        memory_id: MemoryId,
        agent_type: AgentType = None,
        observer: str | None = None,
        subject: str | None = None,
        session_key: str | None = None,
    ) -> dict[str, Any]:
        engine = self._engine("derive_observations")
        memory = self.app.memories.get(memory_id)
        agent = _agent(agent_type)
        if agent and agent != memory.agent:
            raise InvalidInput(f"memory {memory_id} belongs to agent '{memory.agent}', not '{agent}'",
                               hint="leave agent_type out, or pass the memory's own agent")
        perspective = None
        if observer or subject or session_key:
            base = memory.cognitive.perspective() if memory.cognitive else None
            perspective = PerspectiveKey(observer or (base.observer if base else memory.agent or ""),
                                         subject or (base.subject if base else memory.agent or ""),
                                         session_key or (base.session_key if base else memory.session_key))
        return engine.derive(memory_id, perspective=perspective).to_dict()

    # system ----------------------------------------------------------------------
    @tool_errors
    def initialize_nexus_system(self) -> dict[str, Any]:
        from nexus_memory import __version__

        app = self.app
        return {
            "ready": True,
            "version": __version__,
            "backend": app.store.backend,
            "default_agent": app.memories.default_agent,
            "total_memories": app.memories.count(MemoryFilter(include_raw=True)),
            "namespaces": [ns.to_dict() for ns in app.memories.namespaces()],
            "cognition_available": app.has_cognition,
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
