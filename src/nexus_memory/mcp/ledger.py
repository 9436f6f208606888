"""What MCP tools hand the model, written down like the hooks' injections (issue 16, channel
`mcp_results`): the tokens of the JSON result (bytes/4), the memory ids, and why each came.

Who asks: the client's name from the MCP handshake (`clientInfo.name`: claude-code,
codex-mcp-client, gemini-cli-mcp-client, ...) mapped to the agent's canonical name, else "mcp".
Which session: on stdio, where an agent starts one server process per session, a key made once
per process; on streamable HTTP the MCP session id, and when the client speaks the stateless
protocol (2026-07-28: no session exists) one key per agent, `mcp-http-<agent>`. A tool given the agent's own session key
(build_working_representation, search_perspective_memories) records that instead.
The daily cap does not stop MCP results (the agent asked for them), but they count toward it.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from nexus_memory.domain.agents import canonicalize_agent_type
from nexus_memory.domain.costs import MCP_RESULTS

if TYPE_CHECKING:
    from nexus_memory.app import App

_CLIENT_SUFFIXES = ("-mcp-client", "_mcp_client", " mcp client", "-mcp", "-client")


def agent_of_client(name: str | None) -> str:
    """`codex-mcp-client` -> codex, `Claude Code` -> claude-code; "mcp" when the client said nothing."""
    text = (name or "").strip().lower().replace(" ", "-")
    for suffix in _CLIENT_SUFFIXES:
        if text.endswith(suffix.replace(" ", "-")) and len(text) > len(suffix):
            text = text[: -len(suffix)]
            break
    text = "".join(ch for ch in text if ch.isalnum() or ch in "-_.")[:64]
    return canonicalize_agent_type(text) if text else "mcp"


def _tokens(result: Any) -> int:
    text = json.dumps(result, ensure_ascii=False, default=str)
    return (len(text.encode("utf-8")) + 3) // 4


class ResultLedger:
    def __init__(self, app: App) -> None:
        self.app = app
        self._fallback = f"mcp-{os.getpid()}-{uuid.uuid4().hex[:8]}"

    def caller(self, ctx: Any) -> tuple[str, str]:
        """(agent, session key) of the client behind this request."""
        if ctx is None:
            return "mcp", self._fallback
        try:
            session = ctx.request_context.session
            params = session.client_params
            agent = agent_of_client(params.client_info.name if params is not None else None)
            sid = getattr(getattr(session, "_connection", None), "session_id", None)
            if sid:
                return agent, f"mcp-{sid}"
            if getattr(ctx.request_context, "request", None) is not None:  # stateless HTTP: no session at all
                return agent, f"mcp-http-{agent}"
            return agent, self._fallback
        except Exception:  # no request context (a direct call), an older SDK: still recorded
            return "mcp", self._fallback

    def record(self, ctx: Any, tool: str, result: Any, ids: list[int], *, query: str = "",
               reasons: Mapping[int, Mapping[str, float]] | None = None, session: str | None = None) -> None:
        if not ids:
            return
        try:
            agent, key = self.caller(ctx)
            self.app.costs.record(agent=agent, channel=MCP_RESULTS, tokens=_tokens(result), ids=ids,
                                  session_key=session or key, source=tool, query=query, reasons=reasons)
        except Exception as exc:  # the answer still goes out; only its record is missing
            import logging

            logging.getLogger(__name__).warning("MCP result of %s not recorded: %s: %s", tool, type(exc).__name__, exc)


def why(score: float, components: Mapping[str, float]) -> dict[str, float]:
    """A search hit's reasons: its score, and its cosine when the hybrid search had one."""
    out = {"score": round(float(score), 4)}
    if "cosine" in components:
        out["cosine"] = round(float(components["cosine"]), 4)
    return out


def ids_in(representation: Mapping[str, Any]) -> list[int]:
    """The memory ids of a working representation's buckets (not its exclusions)."""
    ids: list[int] = []
    for key, value in representation.items():
        if key == "excluded" or not isinstance(value, list):
            continue
        ids.extend(int(item["id"]) for item in value if isinstance(item, dict) and isinstance(item.get("id"), int))
    return ids
