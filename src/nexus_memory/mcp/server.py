"""Build the MCP server (official SDK, 2.x `MCPServer`) over an App: tools, resources, prompts.

Transports: stdio (`nexus mcp`, `nexus serve --transport stdio`) and streamable HTTP,
mounted at `/mcp` by the HTTP app (`nexus_memory.http.app`). Nothing here writes to
stdout: on stdio, stdout carries the protocol.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from nexus_memory.domain.agents import validate_agent_name
from nexus_memory.domain.models import MemoryFilter
from nexus_memory.errors import NexusError, NotFound
from nexus_memory.mcp.descriptions import TOOL_DESCRIPTIONS
from nexus_memory.mcp.tools import NexusTools, error_text

if TYPE_CHECKING:
    from mcp.server.mcpserver import MCPServer

    from nexus_memory.app import App

SERVER_NAME = "nexus-memory"
INSTRUCTIONS = (
    "Nexus Memory is the user's long-term memory shared by every coding agent. Search it (search_memories) "
    "before answering questions about the project's history or the user's preferences, and store durable "
    "facts and decisions (store_memory). Pass your agent name as agent_type, e.g. claude-code."
)


def build_server(app: App) -> MCPServer:
    from mcp.server.mcpserver import MCPServer

    from nexus_memory import __version__

    server: MCPServer = MCPServer(SERVER_NAME, instructions=INSTRUCTIONS, version=__version__, log_level="WARNING")
    schemas: dict[str, dict[str, Any]] = {}
    tools = NexusTools(app, schemas=lambda: schemas)
    for name, description in TOOL_DESCRIPTIONS.items():
        server.add_tool(getattr(tools, name), name=name, description=description)
        schemas[name] = server._tool_manager.get_tool(name).parameters  # type: ignore[union-attr]
    _register_resources(server, app)
    _register_prompts(server)
    return server


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)


def _resource_errors(fn: Any) -> Any:
    """NotFound -> the SDK's not-found resource error; other NexusErrors -> a resource error."""
    import functools

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from mcp.server.mcpserver.exceptions import ResourceError, ResourceNotFoundError

        try:
            return fn(*args, **kwargs)
        except NotFound as exc:
            raise ResourceNotFoundError(error_text(exc)) from None
        except NexusError as exc:
            raise ResourceError(error_text(exc)) from None

    return wrapper


def _register_resources(server: MCPServer, app: App) -> None:
    def _agent_stats(agent: str) -> dict[str, Any]:
        stats = app.memories.stats([agent])
        if not stats:
            raise NotFound(f"agent '{agent}' has no namespace", hint="read agent:// for the list of agents")
        return stats[0].to_dict()

    @server.resource("memory://", name="memory-summary", mime_type="application/json",
                     description="Total memories and the count per agent namespace.")
    @_resource_errors
    def memory_summary() -> str:
        namespaces = app.memories.namespaces()
        return _json({
            "total_memories": sum(ns.memory_count for ns in namespaces),
            "namespaces": [{"agent_type": ns.name, "count": ns.memory_count} for ns in namespaces],
        })

    @server.resource("memory://{memory_id}", name="memory", mime_type="application/json",
                     description="One memory as JSON, by id (reading it counts as an access).")
    @_resource_errors
    def memory_by_id(memory_id: str) -> str:
        if not memory_id.isdigit():
            raise NotFound(f"memory '{memory_id}' does not exist", hint="memory ids are whole numbers")
        return _json(app.memories.get(int(memory_id), touch=True).to_dict())

    @server.resource("agent://", name="agents", mime_type="application/json",
                     description="Every agent namespace with its memory count.")
    @_resource_errors
    def agents() -> str:
        return _json({"agents": [ns.to_dict() for ns in app.memories.namespaces()]})

    @server.resource("agent://{agent_type}", name="agent", mime_type="application/json",
                     description="One agent namespace: its details and memory count.")
    @_resource_errors
    def agent_info(agent_type: str) -> str:
        name = validate_agent_name(agent_type)
        for ns in app.memories.namespaces():
            if ns.name == name:
                return _json(ns.to_dict())
        raise NotFound(f"agent '{name}' has no namespace", hint="read agent:// for the list of agents")

    @server.resource("agent://{agent_type}/memories", name="agent-memories", mime_type="application/json",
                     description="The latest 100 memories of one agent, newest first.")
    @_resource_errors
    def agent_memories(agent_type: str) -> str:
        name = validate_agent_name(agent_type)
        _agent_stats(name)
        items = app.memories.list_memories(MemoryFilter(agents=(name,)), limit=100)
        return _json({"agent_type": name, "memories": [m.to_dict() for m in items]})

    @server.resource("agent://{agent_type}/stats", name="agent-stats", mime_type="application/json",
                     description="Counts for one agent: total, active, archived, per category and level.")
    @_resource_errors
    def agent_stats(agent_type: str) -> str:
        return _json(_agent_stats(validate_agent_name(agent_type)))


def _register_prompts(server: MCPServer) -> None:
    @server.prompt(name="store_memory", description="Ask the assistant to store something in Nexus memory.")
    def store_prompt(content: str, agent_type: str = "default") -> str:
        return (
            f"Please store this in Nexus memory with the store_memory tool (agent_type '{agent_type}'), "
            f"choosing a fitting category and a few labels:\n\n{content}"
        )

    @server.prompt(name="search_memories", description="Ask the assistant to search Nexus memory.")
    def search_prompt(query: str, agent_type: str = "") -> str:
        scope = f" for agent_type '{agent_type}'" if agent_type else " across every agent"
        return (
            f"Please search Nexus memory{scope} with the search_memories tool for: {query}\n"
            "Summarise what you find and cite the memory ids."
        )


def run_stdio(app: App) -> None:
    """Serve MCP over stdin/stdout until the client disconnects (every line checked: mcp/stdio.py)."""
    import anyio

    from nexus_memory.mcp.stdio import serve

    anyio.run(serve, build_server(app))
