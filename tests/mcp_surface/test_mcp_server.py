"""The MCP server through the official SDK client, over stdio (`nexus mcp`) and streamable HTTP (/mcp)."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from nexus_memory import StoreRequest, derive_session_key
from nexus_memory.app import App
from nexus_memory.mcp.descriptions import COGNITION_TOOLS, TOOL_DESCRIPTIONS
from tests.conftest import nexus_executable
from tests.servekit import LiveServer

UPSTREAM_TOOLS = {
    "store_memory", "search_memories", "get_memory", "list_memories", "delete_memory", "list_namespaces",
    "get_stats", "get_session_digest", "run_reflective_cycle", "explain_memory_lineage",
    "build_working_representation", "search_perspective_memories", "derive_observations",
    "initialize_nexus_system", "tool_help", "tool_schema",
}
#: Upstream input fields per tool (reference section 8); required ones must stay required.
UPSTREAM_FIELDS: dict[str, tuple[set[str], set[str]]] = {
    "store_memory": ({"content"}, {"agent_type", "category", "labels", "metadata"}),
    "search_memories": ({"query"}, {"agent_type", "limit", "threshold", "mode", "explain", "include_raw"}),
    "get_memory": ({"memory_id"}, set()),
    "list_memories": (set(), {"agent_type", "category", "limit", "offset"}),
    "delete_memory": ({"memory_id"}, set()),
    "get_stats": (set(), {"agent_type"}),
    "get_session_digest": ({"session_key"}, {"agent_type", "digest_kind"}),
    "run_reflective_cycle": (set(), {"agent_type", "session_key"}),
    "explain_memory_lineage": ({"memory_id"}, set()),
    "build_working_representation": ({"agent_type"}, {"query", "observer", "subject", "session_key", "max_items",
                                                      "include_raw", "include_digests", "include_derived",
                                                      "include_contradictions"}),
    "search_perspective_memories": ({"observer", "subject"}, {"agent_type", "session_key", "cognitive_level",
                                                              "limit"}),
    "derive_observations": ({"memory_id"}, {"agent_type", "observer", "subject", "session_key"}),
    "tool_help": (set(), {"tool_name"}),
    "tool_schema": (set(), {"tool_name"}),
}

Scenario = Callable[[Any], Awaitable[None]]


def run_over(transport: str, app: App, scenario: Scenario) -> None:
    from mcp import Client, StdioServerParameters

    async def go(target: Any) -> None:
        async with Client(target, read_timeout_seconds=30) as client:
            await scenario(client)

    if transport == "stdio":
        params = StdioServerParameters(command=nexus_executable(), args=["mcp"], env=dict(os.environ))
        asyncio.run(go(params))
    else:
        with LiveServer(app) as server:
            asyncio.run(go(server.url + "/mcp"))


def payload(result: Any) -> dict[str, Any]:
    assert not result.is_error, result.content[0].text
    data: dict[str, Any] = json.loads(result.content[0].text)
    return data


@pytest.mark.parametrize("transport", ["stdio", "http"])
def test_tools_resources_and_prompts(transport: str, app: App) -> None:
    async def scenario(client: Any) -> None:
        tools = {t.name: t for t in (await client.list_tools()).tools}
        assert set(tools) == UPSTREAM_TOOLS
        for name, (required, optional) in UPSTREAM_FIELDS.items():
            schema = tools[name].input_schema
            assert set(schema.get("required", [])) == required, name
            assert set(schema["properties"]) == required | optional, name

        stored = payload(await client.call_tool("store_memory", {
            "content": "The deploy script lives in scripts/deploy.sh", "agent_type": "Claude",
            "category": "facts", "labels": ["ops"], "metadata": {"source": "test"},
        }))
        mid = stored["id"]
        assert stored["created"] is True and stored["memory"]["agent_type"] == "claude-code"
        again = payload(await client.call_tool("store_memory", {
            "content": "the deploy script lives in scripts/deploy.sh  ", "agent_type": "claude-code"}))
        assert again["id"] == mid and again["merged"] is True

        found = payload(await client.call_tool("search_memories", {"query": "deploy script", "limit": 5}))
        explained = payload(await client.call_tool("search_memories", {"query": "deploy script", "explain": True}))
        assert {"relevance", "prior", "score"} <= set(explained["results"][0]["explain"])
        assert "explain" not in found["results"][0] and found["mode"] in ("hybrid", "bm25")
        assert found["results"][0]["memory"]["id"] == mid and found["results"][0]["score"] > 0
        assert payload(await client.call_tool("get_memory", {"memory_id": mid}))["content"].startswith("The deploy")
        listed = payload(await client.call_tool("list_memories", {"agent_type": "claude-code", "limit": 1}))
        assert listed["total"] == 1 and listed["memories"][0]["id"] == mid
        namespaces = payload(await client.call_tool("list_namespaces", {}))["namespaces"]
        assert [ns["name"] for ns in namespaces] == ["claude-code"]
        stats = payload(await client.call_tool("get_stats", {"agent_type": "claude-code"}))["stats"]
        assert stats[0]["categories"] == {"facts": 1}
        lineage = payload(await client.call_tool("explain_memory_lineage", {"memory_id": mid}))
        assert lineage["memory"]["id"] == mid and lineage["sources"] == []
        init = payload(await client.call_tool("initialize_nexus_system", {}))
        assert init["ready"] is True and init["total_memories"] == 1 and len(init["tools"]) == 16
        help_all = payload(await client.call_tool("tool_help", {}))["tools"]
        assert set(help_all) == UPSTREAM_TOOLS
        schema = payload(await client.call_tool("tool_schema", {"tool_name": "store_memory"}))["input_schema"]
        assert schema["required"] == ["content"]

        summary = json.loads((await client.read_resource("memory://")).contents[0].text)
        assert summary == {"total_memories": 1, "namespaces": [{"agent_type": "claude-code", "count": 1}]}
        one = json.loads((await client.read_resource(f"memory://{mid}")).contents[0].text)
        assert one["id"] == mid
        agents = json.loads((await client.read_resource("agent://")).contents[0].text)["agents"]
        assert agents[0]["name"] == "claude-code"
        info = json.loads((await client.read_resource("agent://claude-code")).contents[0].text)
        assert info["memory_count"] == 1
        latest = json.loads((await client.read_resource("agent://claude-code/memories")).contents[0].text)
        assert [m["id"] for m in latest["memories"]] == [mid]
        agent_stats = json.loads((await client.read_resource("agent://claude-code/stats")).contents[0].text)
        assert agent_stats["active_memories"] == 1

        prompts = {p.name: p for p in (await client.list_prompts()).prompts}
        assert set(prompts) == {"store_memory", "search_memories"}
        got = await client.get_prompt("store_memory", {"content": "tabs not spaces"})
        assert "tabs not spaces" in got.messages[0].content.text

        deleted = payload(await client.call_tool("delete_memory", {"memory_id": mid}))
        assert deleted == {"deleted": True, "id": mid}

    run_over(transport, app, scenario)


@pytest.mark.parametrize("transport", ["stdio", "http"])
def test_errors_are_tool_errors_that_say_what_to_do(transport: str, app: App) -> None:
    async def scenario(client: Any) -> None:
        missing = await client.call_tool("get_memory", {"memory_id": 424242})
        assert missing.is_error and "memory 424242 does not exist" in missing.content[0].text
        assert "What to do:" in missing.content[0].text
        bad = await client.call_tool("store_memory", {"content": "x", "category": "nonsense"})
        assert bad.is_error and "category" in bad.content[0].text
        blank = await client.call_tool("search_memories", {"query": "   "})
        assert blank.is_error and "query is empty" in blank.content[0].text
        unknown = await client.call_tool("tool_help", {"tool_name": "fly"})
        assert unknown.is_error and "store_memory" in unknown.content[0].text
        payload(await client.call_tool("store_memory", {"content": "a memory in the default namespace"}))
        no_digest = await client.call_tool("get_session_digest", {"session_key": "never-ran"})
        assert no_digest.is_error and "run_reflective_cycle" in no_digest.content[0].text

    run_over(transport, app, scenario)


def test_every_tool_has_a_model_description_and_a_docs_entry() -> None:
    from pathlib import Path

    docs = (Path(__file__).resolve().parents[2] / "docs" / "mcp.md").read_text("utf-8")
    for name, text in TOOL_DESCRIPTIONS.items():
        assert len(text) > 120, f"{name}: the description is too thin for a model"
        assert "Example:" in text and "On error:" in text, f"{name}: needs an example and error advice"
        assert f"### `{name}`" in docs, f"{name} is missing from docs/mcp.md"


@pytest.mark.parametrize("transport", ["stdio", "http"])
def test_cognition_tools_use_the_dream_cycle(transport: str, app: App) -> None:
    key = derive_session_key("codex", "sess-mcp", None)
    app.sessions.start("codex", "sess-mcp", None)
    ids = [app.memories.store(StoreRequest(content=text, agent="codex", session_key=key)).memory.id
           for text in ("we chose sqlite for storage", "tests use real databases", "the API lives under /api/v1")]
    app.sessions.end("codex", "sess-mcp", None)  # the session-end dream writes the digests

    async def scenario(client: Any) -> None:
        digest = payload(await client.call_tool("get_session_digest", {
            "agent_type": "codex", "session_key": key, "digest_kind": "short"}))
        assert "we chose sqlite" in digest["short"]["content"] and "long" not in digest
        cycle = payload(await client.call_tool("run_reflective_cycle", {"agent_type": "codex", "session_key": key}))
        assert cycle["failed"] == 0 and cycle["processed_jobs"] >= 1
        rep = payload(await client.call_tool("build_working_representation", {
            "agent_type": "codex", "query": "storage", "max_items": 8}))
        assert any("sqlite" in item["content"] for item in rep["digests"] + rep["semantic"] + rep["recent"])
        seen = payload(await client.call_tool("search_perspective_memories", {
            "agent_type": "codex", "observer": "codex", "subject": "codex", "cognitive_level": "explicit"}))
        assert set(ids) <= {m["id"] for m in seen["memories"]}
        derived = payload(await client.call_tool("derive_observations", {"memory_id": ids[0]}))
        assert derived["status"] == "skipped" and "raw" in derived["reason"]
        lineage = payload(await client.call_tool("explain_memory_lineage", {"memory_id": digest["short"]["memory_id"]}))
        assert {s["id"] for s in lineage["sources"]} >= set(ids)
        wrong = await client.call_tool("build_working_representation", {"agent_type": "nobody-here"})
        assert wrong.is_error and "nobody-here" in wrong.content[0].text

    run_over(transport, app, scenario)


def test_without_a_cognition_service_the_tools_say_not_available(app: App) -> None:
    from mcp import Client

    from nexus_memory.mcp.server import build_server

    app.make_cognition = None  # a server without the cognition engine
    assert not app.has_cognition
    mid = app.memories.store(StoreRequest(content="plain memory", agent="codex")).memory.id
    calls = {
        "get_session_digest": {"session_key": "k"},
        "run_reflective_cycle": {},
        "build_working_representation": {"agent_type": "codex"},
        "search_perspective_memories": {"observer": "a", "subject": "b"},
        "derive_observations": {"memory_id": mid},
    }
    calls["explain_memory_lineage"] = {"memory_id": mid}
    assert set(calls) == set(COGNITION_TOOLS)

    async def go() -> None:
        async with Client(build_server(app)) as client:
            for name, args in calls.items():
                result = await client.call_tool(name, args)
                assert result.is_error, name
                assert "not available yet" in result.content[0].text, name
            init = payload(await client.call_tool("initialize_nexus_system", {}))
            assert init["cognition_available"] is False

    asyncio.run(go())


def test_http_mcp_needs_the_token_when_one_is_set(app: App) -> None:
    import httpx

    with LiveServer(app, token="s3cret-token") as server:
        init = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}}
        headers = {"accept": "application/json, text/event-stream"}
        denied = httpx.post(server.url + "/mcp", json=init, headers=headers)
        assert denied.status_code == 401
        assert "token" in denied.json()["message"]
        ok = httpx.post(server.url + "/mcp", json=init,
                        headers={**headers, "authorization": "Bearer s3cret-token"})
        assert ok.status_code == 200


def test_serve_with_stdio_transport_speaks_mcp() -> None:
    from mcp import Client, StdioServerParameters

    async def go() -> None:
        params = StdioServerParameters(command=nexus_executable(), args=["serve", "--transport", "stdio"],
                                       env=dict(os.environ))
        async with Client(params, read_timeout_seconds=30) as client:
            names = {t.name for t in (await client.list_tools()).tools}
            assert names == UPSTREAM_TOOLS
            stored = payload(await client.call_tool("store_memory", {"content": "via serve --transport stdio"}))
            assert stored["memory"]["agent_type"] == "default"

    asyncio.run(go())


@pytest.mark.parametrize("transport", ["stdio", "http"])
def test_tool_results_are_recorded_as_injections_of_the_calling_agent(transport: str, app: App) -> None:
    """What memory costs (issue 16): MCP results count like the hooks' injections, per agent (the
    client's name) and per MCP session where the transport has one (mcp/ledger.py)."""
    from mcp import Client, StdioServerParameters
    from mcp.types import Implementation

    from nexus_memory.services.recall import estimate_tokens

    mid = app.memories.store(StoreRequest(content="The deploy script lives in scripts/deploy.sh",
                                          agent="claude-code")).memory.id
    texts: list[str] = []

    async def go(target: Any) -> None:
        for _ in range(2):  # two connections: two MCP sessions
            async with Client(target, read_timeout_seconds=30,
                              client_info=Implementation(name="codex-mcp-client", version="0.1")) as client:
                found = await client.call_tool("search_memories", {"query": "deploy script", "explain": True})
                texts.append(found.content[0].text)
                one = await client.call_tool("get_memory", {"memory_id": mid})
                texts.append(one.content[0].text)
                await client.call_tool("search_memories", {"query": "nothing matches zebra"})  # no result: no record

    if transport == "stdio":
        asyncio.run(go(StdioServerParameters(command=nexus_executable(), args=["mcp"], env=dict(os.environ))))
    else:
        with LiveServer(app) as server:
            asyncio.run(go(server.url + "/mcp"))
    rows = [i.to_dict() for i in app.costs.injections()]
    assert [(r["agent_type"], r["channel"], r["source"]) for r in rows] == [
        ("codex", "mcp_results", "search_memories"), ("codex", "mcp_results", "get_memory")] * 2
    assert [r["memory_ids"] for r in rows] == [[mid]] * 4
    assert [r["tokens"] for r in rows] == [estimate_tokens(json.dumps(json.loads(t), ensure_ascii=False))
                                           for t in texts]
    assert rows[0]["query"] == "deploy script" and set(rows[0]["reasons"][str(mid)]) >= {"score"}
    keys = [r["session_key"] for r in rows]
    if transport == "stdio":  # one server process per connection, one key per process
        assert keys[0] == keys[1] != keys[2] == keys[3] and all(k.startswith("mcp-") for k in keys)
    else:  # the stateless protocol has no session: one key per agent
        assert set(keys) == {"mcp-http-codex"}
    assert app.costs.report(days=1).today_by_agent == {"codex": sum(r["tokens"] for r in rows)}
