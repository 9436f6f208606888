"""`nexus hook <agent> <event>`: the command every installed hook entry runs.

Fail open, lose nothing: any internal error gives exit 0 with `{}` on stdout and one line in
the error log; an event that could not be stored goes to the append-only spool (drained by
the next hook run). Tool events are only spooled here (a tool call's hook costs little more than
starting Python); the detached spool drain (hook_drain.py) stores them at the end of the turn.
Session starts and prompts open the store: they answer with context (the session pack, prompt
recall: services/recall.py), and a prompt is stored at once. Imports stay light: no
numpy/onnx/fastapi/mcp; the lean app has no cognition engine.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nexus_memory.integrations.events import (
    POST_COMPACT,
    PRE_COMPACT,
    PROMPT,
    SESSION_END,
    SESSION_START,
    STOP,
    SUBAGENT_STOP,
    HookEvent,
    normalize,
)
from nexus_memory.integrations.hook_drain import hand_off
from nexus_memory.integrations.outputs import EMPTY, render
from nexus_memory.integrations.paths import Paths
from nexus_memory.integrations.spool import log_error

if TYPE_CHECKING:
    from nexus_memory.app import App
    from nexus_memory.config import Settings
    from nexus_memory.project import ProjectIdentity
    from nexus_memory.services.costs import CapState
    from nexus_memory.services.recall import Pack

#: Events after which the worker stores what the turn spooled.
TURN_END = frozenset({STOP, SUBAGENT_STOP, PRE_COMPACT, POST_COMPACT})
#: A spool this large is drained without waiting for the end of the turn.
HAND_OFF_BYTES = 256 * 1024


@dataclass(frozen=True, slots=True)
class HookInput:
    agent: str
    event: str | None
    stdin: str
    settings: Settings
    project_dir: str | None = None  # $CLAUDE_PROJECT_DIR, $GEMINI_PROJECT_DIR, ... when the payload has no cwd
    sync: bool = False  # do end-of-session work inline (tests, debugging)


def run(inp: HookInput) -> str:
    """The hook's stdout. Never raises."""
    paths = Paths(inp.settings)
    try:
        return _run(inp, paths)
    except BaseException as exc:  # fail open, always
        log_error(paths.log_dir, f"hook {inp.agent} {inp.event}: {type(exc).__name__}: {exc}")
        return EMPTY


def parse_payload(text: str, log_dir: Path) -> Any:
    if not text.strip():
        return {}
    try:
        return json.loads(text)
    except (ValueError, RecursionError) as exc:  # RecursionError: nested deeper than the parser goes
        log_error(log_dir, f"hook stdin is not JSON ({len(text)} chars, {type(exc).__name__}); kept as text")
        return {"text": text}


def _run(inp: HookInput, paths: Paths) -> str:
    event = normalize(inp.agent, inp.event, parse_payload(inp.stdin, paths.log_dir))
    if not event.cwd:
        event.cwd = inp.project_dir or os.getcwd()
    record = {"type": "event", "event": event.to_dict()}
    if event.kind == SESSION_END:
        paths.work.append([{"type": "end", "event": event.to_dict()}])
        hand_off(inp.settings, sync=inp.sync)
        return render(event.agent, event.kind, event.event_name, "")
    if event.kind not in (SESSION_START, PROMPT) and paths.events.append([record]):
        # Capture-only events: the (redacted) event is now in the spool, and the worker stores it at
        # the end of the turn (Stop, compaction, the next prompt), or sooner when the spool grows.
        if inp.sync or event.kind in TURN_END or paths.events.size() > HAND_OFF_BYTES:
            hand_off(inp.settings, sync=inp.sync)
        return render(event.agent, event.kind, event.event_name, "")
    from nexus_memory.integrations.hook_store import process, project

    proj = project(event.cwd, paths.projects)
    try:
        from nexus_memory.app import build_app

        app = build_app(inp.settings, embeddings=False, cognition=False)
    except Exception as exc:
        log_error(paths.log_dir, f"database unavailable, event spooled: {type(exc).__name__}: {exc}")
        paths.events.append([record])
        hand_off(inp.settings, sync=inp.sync)
        return EMPTY
    try:
        context = ""
        try:
            if event.kind == SESSION_START:
                context = _session_start(app, event, proj, paths)
            elif event.kind == PROMPT:
                context = _prompt_recall(app, event, proj, paths)
        except Exception as exc:  # no context this time; capture still happens
            log_error(paths.log_dir, f"context for {event.agent} {event.event_name}: {type(exc).__name__}: {exc}")
        try:
            process(app, event, proj, paths)
        except Exception as exc:
            log_error(paths.log_dir, f"capture failed, event spooled: {type(exc).__name__}: {exc}")
            paths.events.append([record])
        if event.kind == SESSION_START:
            paths.work.append([{"type": "drain", "event": event.to_dict()}])
        if event.kind == SESSION_START or paths.events.pending() or paths.work.pending():
            hand_off(inp.settings, sync=inp.sync)
        return render(event.agent, event.kind, event.event_name, context)
    finally:
        app.close()


def _record(app: App, event: HookEvent, proj: ProjectIdentity, channel: str, pack: Pack, query: str = "", *,
            budget: int = 0, capped: bool = False) -> None:
    """Every injection is written down with its tokens, ids and reasons (`nexus stats`, the dashboard)."""
    from nexus_memory.integrations.hook_store import session_key

    if not pack.ids:
        return
    try:
        app.costs.record(agent=event.agent, channel=channel, tokens=pack.tokens, ids=pack.ids,
                         session_key=session_key(event) or "", budget=budget, project=proj.id,
                         source=event.event_name or event.kind, query=query, reasons=pack.reasons, capped=capped)
    except Exception as exc:  # the context still goes out; only the record is missing
        log_error(app.settings.paths.log_dir, f"injection not recorded: {type(exc).__name__}: {exc}")


def _cap(app: App, event: HookEvent) -> CapState:
    """Today's spend of this agent against its daily cap: one indexed sum. Fails open (no cap)."""
    from nexus_memory.services.costs import CapState

    try:
        return app.costs.state(event.agent)
    except Exception as exc:
        log_error(app.settings.paths.log_dir, f"daily cap not read: {type(exc).__name__}: {exc}")
        return CapState(event.agent, 0, 0)


# ----------------------------------------------------------------------------------------- context
def _session_start(app: App, event: HookEvent, proj: ProjectIdentity, paths: Paths) -> str:
    from nexus_memory.integrations.hook_store import read_injected, reset_injected, write_injected
    from nexus_memory.services.recall import context_budget

    app.sessions.start(event.agent, event.session_id, event.cwd)
    if event.source in (None, "startup", "clear", "compact", "new"):
        reset_injected(paths, event)
    budget = context_budget(event.agent, app.settings.subconscious_mode, per_prompt=False)
    if budget <= 0 or not _cap(app, event).allows(budget):  # the daily cap is spent: no session pack
        return ""
    code = _code_scope(proj, paths)
    pack = app.recall.session_pack(project=proj.display_name, project_root=proj.scope_keys(), budget=budget,
                                   code=code)
    if code is not None:
        code.save()
    _write_context_md(app, event.agent, proj, pack, paths)
    if pack.ids:
        write_injected(paths, event, read_injected(paths, event) | pack.whole | pack.covers)
        _record(app, event, proj, "session_pack", pack, budget=budget)
    return pack.text


def _prompt_recall(app: App, event: HookEvent, proj: ProjectIdentity, paths: Paths) -> str:
    from nexus_memory.integrations.hook_store import read_injected, session_key, write_injected
    from nexus_memory.services.recall import context_budget

    if not event.prompt:
        return ""
    budget = context_budget(event.agent, app.settings.subconscious_mode, per_prompt=True)
    if budget <= 0:
        return ""
    injected = read_injected(paths, event)
    keys = proj.scope_keys()
    code = _code_scope(proj, paths)
    capped = not _cap(app, event).allows(budget)  # the daily cap is spent: only the strict bar
    pack = app.recall.prompt_pack(event.prompt, _search(app, event.prompt, keys), budget=budget,
                                  project_root=keys, session_key=session_key(event), exclude_ids=injected,
                                  strict=capped, code=code)
    if code is not None:
        code.save()
    if pack.ids:
        write_injected(paths, event, injected | set(pack.ids))
        _record(app, event, proj, "prompt_recall", pack, event.prompt, budget=budget, capped=capped)
    return pack.text


def _code_scope(proj: ProjectIdentity, paths: Paths) -> Any:
    """Branch rule and code anchors for recall in a git checkout (project/scope.py); None outside git."""
    if proj.checkout is None:
        return None
    from nexus_memory.project.scope import CodeScope

    return CodeScope(proj, paths.projects)


def _search(app: App, prompt: str, keys: tuple[str, ...]) -> list[Any]:
    """Hybrid hits from a running `nexus serve` (the model is warm there), else BM25 in-process."""
    from nexus_memory.domain.enums import CognitiveLevel
    from nexus_memory.domain.models import MemoryFilter
    from nexus_memory.integrations import serve_client
    from nexus_memory.services.recall import RECALL_CANDIDATES, Hit, hits_from_api
    from nexus_memory.services.search import SearchQuery

    query = prompt[:2000]
    remote = serve_client.search(app.settings.port, app.settings.api_token, query, RECALL_CANDIDATES,
                                 project_root=keys, store=app.settings.store_id)
    if remote is not None:
        return hits_from_api(remote)
    try:
        # Statements and episodes only: digests retell them and reflection records are about them.
        levels = (CognitiveLevel.EXPLICIT, CognitiveLevel.DERIVED, CognitiveLevel.RAW)
        scope = MemoryFilter(include_raw=True, levels=levels, projects=(*keys, None))
        found = app.search.search(SearchQuery(text=query, limit=RECALL_CANDIDATES, filter=scope))
        related = app.recall.expansion(query)
        if related:  # no model here: memories holding words related to the prompt's (domain/expansion.py)
            seen = {h.memory.id for h in found}
            found += [h for h in app.search.search(SearchQuery(text=" ".join(related.words()), limit=RECALL_CANDIDATES,
                                                               filter=scope)) if h.memory.id not in seen]
    except Exception as exc:  # e.g. a query of stop words only
        log_error(app.settings.paths.log_dir, f"recall search: {type(exc).__name__}: {exc}")
        return []
    return [Hit(h.memory, h.score, h.components.get("cosine")) for h in found]


def _write_context_md(app: App, agent: str, proj: ProjectIdentity, pack: Pack, paths: Paths) -> None:
    """`.nexus/context.md`, only in a real project (a git repository or an existing `.nexus/`).

    One builder owns the file (cognition's, reference 5.14): the session pack's memories are promoted
    into the project's hot cache, and the file is rebuilt from that cache, exactly as the nap at
    session end rebuilds it. So the two writers can never disagree on format or content.
    """
    from nexus_memory.cognition.cache import HotCacheEntry, load_hot, save_hot
    from nexus_memory.cognition.context import build_context, write_context
    from nexus_memory.config import cognitive_system_settings
    from nexus_memory.domain.budget import estimate_window, for_model
    from nexus_memory.domain.timeutil import utcnow

    nexus_dir = proj.root / ".nexus"
    if not (nexus_dir.is_dir() or (proj.root / ".git").exists()):
        return
    try:
        nexus_dir.mkdir(exist_ok=True)
        ignore = nexus_dir / ".gitignore"
        if not ignore.exists():
            ignore.write_text("# written by Nexus Memory: generated files stay out of git\ncontext.md\ncache/\n",
                              encoding="utf-8")
        system = cognitive_system_settings(app.settings)
        now = utcnow()
        cache = load_hot(proj.root)
        by_id = {m.id: m for m in app.store.get_many(list(pack.ids))} if pack.ids else {}
        for mid in pack.ids:
            memory = by_id.get(mid)
            if memory is None:
                continue
            confidence = memory.confidence if memory.confidence is not None else 0.75
            cache.promote(HotCacheEntry.new(memory.id, memory.content, max(0.0, min(1.0, confidence)), now,
                                            source_agent=memory.agent), system.hot_cache_max_entries, now)
        save_hot(proj.root, cache)
        budget = for_model(estimate_window(agent), system.context_allocation_pct).context
        hot_ids = {e.memory_id for e in cache.entries}
        recalls = [(mid, by_id[mid].content) for mid in pack.ids if mid in by_id and mid not in hot_ids]
        write_context(proj.root, build_context(cache, budget, recalls))
    except OSError as exc:
        log_error(paths.log_dir, f"cannot write {nexus_dir / 'context.md'}: {exc}")
