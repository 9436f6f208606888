"""`nexus hook <agent> <event>`: the command every installed hook entry runs.

Fail open, lose nothing: any internal error gives exit 0 with `{}` on stdout and one line in
the error log; an event that could not be stored goes to the append-only spool (drained by
the next hook run). End-of-session work (final transcript read, the runtime shutdown with its
bounded dream) and job draining are handed to a detached worker: tools give hooks ~1 s.
Imports stay light: no numpy/onnx/fastapi/mcp; the lean app has no cognition engine.
"""

from __future__ import annotations

import json
import os
import sys
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
from nexus_memory.integrations.outputs import EMPTY, render
from nexus_memory.integrations.spool import Spool, log_error

if TYPE_CHECKING:
    from nexus_memory.app import App
    from nexus_memory.config import Settings
    from nexus_memory.integrations import context_pack as cp
    from nexus_memory.project import ProjectIdentity
    from nexus_memory.services.memories import StoreRequest

TRANSCRIPT_AGENTS = frozenset({"claude-code", "codex", "gemini", "qwen"})
#: Events after which the worker stores what the turn spooled.
TURN_END = frozenset({STOP, SUBAGENT_STOP, PRE_COMPACT, POST_COMPACT})
#: A spool this large is drained without waiting for the end of the turn.
HAND_OFF_BYTES = 256 * 1024
#: How often a busy session's runtime state file is refreshed (its idle timeout is 900 s).
RUNTIME_REFRESH_SECS = 60
RECALL_CANDIDATES = 20


@dataclass(frozen=True, slots=True)
class HookInput:
    agent: str
    event: str | None
    stdin: str
    settings: Settings
    project_dir: str | None = None  # $CLAUDE_PROJECT_DIR, $GEMINI_PROJECT_DIR, ... when the payload has no cwd
    sync: bool = False  # do end-of-session work inline (tests, debugging)


class Paths:
    def __init__(self, settings: Settings) -> None:
        root = settings.paths.state_dir / "hooks"
        self.injected = root / "injected"
        self.transcripts = root / "transcripts"
        self.log_dir = settings.paths.log_dir
        self.events = Spool(settings.paths.spool_dir, self.log_dir)
        self.work = Spool(settings.paths.spool_dir / "work", self.log_dir)


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
    except ValueError:
        log_error(log_dir, f"hook stdin is not JSON ({len(text)} chars); kept as text")
        return {"text": text}


def _run(inp: HookInput, paths: Paths) -> str:
    event = normalize(inp.agent, inp.event, parse_payload(inp.stdin, paths.log_dir))
    if not event.cwd:
        event.cwd = inp.project_dir or os.getcwd()
    record = {"type": "event", "event": event.to_dict()}
    if event.kind == SESSION_END:
        paths.work.append([{"type": "end", "event": event.to_dict()}])
        _hand_off(inp)
        return render(event.agent, event.kind, event.event_name, "")
    if event.kind not in (SESSION_START, PROMPT) and paths.events.append([record]):
        # Capture-only events: the (redacted) event is now in the spool, and the worker stores it at
        # the end of the turn (Stop, compaction, the next prompt), or sooner when the spool grows.
        # This keeps a tool call's hook near the cost of starting Python, whatever the database does.
        if inp.sync or event.kind in TURN_END or paths.events.size() > HAND_OFF_BYTES:
            _hand_off(inp)
        return render(event.agent, event.kind, event.event_name, "")
    proj = _project(event.cwd)
    try:
        from nexus_memory.app import build_app

        app = build_app(inp.settings, embeddings=False, cognition=False)
    except Exception as exc:
        log_error(paths.log_dir, f"database unavailable, event spooled: {type(exc).__name__}: {exc}")
        paths.events.append([record])
        _hand_off(inp)
        return EMPTY
    try:
        context = ""
        try:
            if event.kind == SESSION_START:
                context = _session_start(app, event, proj, paths)
            elif event.kind == PROMPT:
                context = _recall(app, event, proj, paths)
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
            _hand_off(inp)
        return render(event.agent, event.kind, event.event_name, context)
    finally:
        app.close()


def _hand_off(inp: HookInput) -> None:
    """Make sure a worker drains the spools: inline with --sync, else a detached one if none runs."""
    if inp.sync:
        run_worker(inp.settings)
    elif not worker_running(inp.settings):
        spawn_worker(inp.settings)


def process(app: App, event: HookEvent, proj: ProjectIdentity, paths: Paths) -> None:
    """Everything an event stores: memories, transcript increments, compaction markers."""
    capture(app, event, proj)
    if event.kind in (STOP, SUBAGENT_STOP, PRE_COMPACT, POST_COMPACT):
        read_transcript(app, event, proj, paths)
    if event.kind in (PRE_COMPACT, POST_COMPACT):
        app.sessions.event(event.agent, event.session_id, event.cwd, "compact", event.trigger or "")
        _reset_injected(paths, event)


# ----------------------------------------------------------------------------------------- capture
def _project(cwd: str) -> ProjectIdentity:
    from nexus_memory.project import resolve_project

    return resolve_project(Path(cwd), with_remote=False)


def _session_key(event: HookEvent) -> str:
    from nexus_memory.domain.sessions import derive_session_key

    return derive_session_key(event.agent, event.session_id, event.cwd)


def requests_for(event: HookEvent, proj: ProjectIdentity) -> list[StoreRequest]:
    """Candidate memories, or the raw activity record, of one event (nothing for lifecycle-only events)."""
    from nexus_memory.domain.enums import CognitiveLevel
    from nexus_memory.integrations.ignore import IgnoreRules
    from nexus_memory.integrations.scoring import RAW_CONFIDENCE, derive, raw_activity
    from nexus_memory.services.memories import StoreRequest

    if event.kind in (SESSION_START, SESSION_END) or IgnoreRules.load(proj.root).excludes(event, proj.root):
        return []
    key = _session_key(event)
    hook_meta = {
        "agent": event.agent, "event": event.event_name, "kind": event.kind, "session_id": event.session_id,
        "tool_name": event.tool_name, "event_id": event.fingerprint(), "project": proj.display_name,
        "project_root": str(proj.root), "cwd": event.cwd, "observed_at": event.observed_at,
    }
    context = f"project {proj.display_name}"
    out: list[StoreRequest] = []
    for cand in derive(event):
        out.append(StoreRequest(
            content=cand.text, agent=event.agent, category=cand.category,
            labels=(*cand.labels, "hook", event.kind), metadata={"hook": hook_meta, "evidence": cand.evidence},
            session_key=key, context=context, level=CognitiveLevel.parse(cand.level),
            confidence=cand.confidence, source_stage="hook_ingest",
        ))
    if out:
        return out
    raw = raw_activity(event)
    if raw is None:
        return []
    payload = json.dumps(event.raw, ensure_ascii=False, default=str)
    raw_meta = {"event": event.event_name, "derived_session_key": key, "observed_at": event.observed_at,
                "payload": event.raw if len(payload) <= 16_000 else {"truncated": payload[:16_000]}}
    return [StoreRequest(
        content=raw.text, agent=event.agent, category="session", labels=raw.labels,
        metadata={"hook": hook_meta, "raw_activity": raw_meta}, session_key=key, context=context,
        level=CognitiveLevel.RAW, confidence=RAW_CONFIDENCE, source_stage="hook_ingest",
    )]


def capture(app: App, event: HookEvent, proj: ProjectIdentity) -> int:
    """Store what the event holds; keep the session runtime alive. Returns memories written."""
    reqs = requests_for(event, proj)
    if event.kind != SESSION_START and not _runtime_fresh(app, event):
        app.sessions.start(event.agent, event.session_id, event.cwd)
    if not reqs:
        return 0
    outcomes = app.memories.store_many(reqs)
    raw = [o for o in outcomes if o.created and "raw-activity" in o.memory.labels]
    if raw:
        _enqueue(app, raw[0].memory.namespace_id, "activity_distill", {"session_key": _session_key(event)}, 70)
    return len(outcomes)


def _runtime_fresh(app: App, event: HookEvent) -> bool:
    """The session's runtime state was refreshed within a minute: no need to rewrite (and fsync) it."""
    import time

    from nexus_memory.domain.agents import canonicalize_agent_type
    from nexus_memory.runtime.state import state_file_path

    agent = canonicalize_agent_type(event.agent)
    path = state_file_path(app.settings.paths.runtime_dir, agent, _session_key(event))
    try:
        return time.time() - path.stat().st_mtime < RUNTIME_REFRESH_SECS
    except OSError:
        return False


def _enqueue(app: App, namespace_id: int, job_type: str, payload: dict[str, Any], priority: int) -> None:
    try:
        app.store.enqueue_job(namespace_id, job_type, payload, priority=priority)
    except Exception as exc:  # the memory is stored; a missing job is only a later distillation
        log_error(app.settings.paths.log_dir, f"enqueue {job_type} failed: {exc}")


def _store_records(app: App, records: list[dict[str, Any]], paths: Paths) -> None:
    for rec in records:
        event = HookEvent.from_dict(rec.get("event") or {})
        if rec.get("type") == "transcript":
            _store_transcript_text(app, event, _project(event.cwd or "/"), str(rec.get("text") or ""))
        else:
            process(app, event, _project(event.cwd or "/"), paths)


# ----------------------------------------------------------------------------------------- transcripts
def read_transcript(app: App, event: HookEvent, proj: ProjectIdentity, paths: Paths) -> int:
    """New transcript turns since the watermark -> one raw-activity memory; then advance the mark."""
    from nexus_memory.integrations.transcripts import Watermarks, format_turns, read_new

    if event.agent not in TRANSCRIPT_AGENTS or not event.transcript_path:
        return 0
    transcript = Path(event.transcript_path).expanduser()
    if not transcript.is_file():
        return 0
    marks = Watermarks(paths.transcripts)
    with marks.locked(event.agent, event.session_id or str(transcript)) as mark_path:
        turns, new_mark = read_new(transcript, marks.read(mark_path))
        if turns:
            text = format_turns(turns)
            try:
                _store_transcript_text(app, event, proj, text)
            except Exception as exc:
                log_error(paths.log_dir, f"transcript excerpt spooled: {type(exc).__name__}: {exc}")
                paths.events.append([{"type": "transcript", "event": event.to_dict(), "text": text}])
        marks.write(mark_path, new_mark)
    return len(turns)


def _store_transcript_text(app: App, event: HookEvent, proj: ProjectIdentity, text: str) -> None:
    from nexus_memory.domain.enums import CognitiveLevel
    from nexus_memory.domain.redaction import redact_text
    from nexus_memory.services.memories import StoreRequest

    if not text.strip():
        return
    key = _session_key(event)
    body = redact_text(text)
    chunks = [body[i : i + 40_000] for i in range(0, len(body), 40_000)]
    reqs = [StoreRequest(
        content=f"Transcript excerpt ({event.agent}, session {event.session_id or key}):\n{chunk}",
        agent=event.agent, category="session", labels=("session", "raw-activity", "distill-pending", "transcript"),
        metadata={"raw_activity": {"event": "transcript", "derived_session_key": key},
                  "hook": {"agent": event.agent, "project": proj.display_name, "project_root": str(proj.root)}},
        session_key=key, context=f"project {proj.display_name}", level=CognitiveLevel.RAW,
        confidence=0.35, source_stage="transcript_ingest",
    ) for chunk in chunks]
    outcomes = app.memories.store_many(reqs)
    if outcomes and any(o.created for o in outcomes):
        _enqueue(app, outcomes[0].memory.namespace_id, "activity_distill", {"session_key": key}, 70)


# ----------------------------------------------------------------------------------------- context
def _injected_path(paths: Paths, event: HookEvent) -> Path:
    from nexus_memory.domain.sessions import sanitize_component

    return paths.injected / f"{sanitize_component(event.agent)}__{sanitize_component(_session_key(event))[:120]}.json"


def _read_injected(paths: Paths, event: HookEvent) -> set[int]:
    try:
        data = json.loads(_injected_path(paths, event).read_text(encoding="utf-8"))
        return {int(i) for i in data.get("ids", [])}
    except (OSError, ValueError, TypeError, AttributeError):
        return set()


def _write_injected(paths: Paths, event: HookEvent, ids: set[int]) -> None:
    path = _injected_path(paths, event)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps({"ids": sorted(ids)}), encoding="utf-8")
    os.replace(tmp, path)


def _reset_injected(paths: Paths, event: HookEvent) -> None:
    """After compaction the model lost what we injected: allow it again."""
    _injected_path(paths, event).unlink(missing_ok=True)


def _session_start(app: App, event: HookEvent, proj: ProjectIdentity, paths: Paths) -> str:
    from nexus_memory.domain.enums import CognitiveLevel
    from nexus_memory.domain.models import MemoryFilter
    from nexus_memory.integrations import context_pack as cp

    app.sessions.start(event.agent, event.session_id, event.cwd)
    if event.source in (None, "startup", "clear", "compact", "new"):
        _reset_injected(paths, event)
    mode = app.settings.subconscious_mode
    budget = cp.context_budget(event.agent, mode, per_prompt=False)
    if budget <= 0:
        return ""
    digests = app.memories.list_memories(
        MemoryFilter(levels=(CognitiveLevel.SUMMARY_SHORT,)), limit=10, order="newest")
    digests = [d for d in digests if cp.project_of(d) in (None, str(proj.root))]
    pool = app.memories.list_memories(MemoryFilter(), limit=200, order="reinforced")
    pool += app.memories.list_memories(MemoryFilter(), limit=200, order="newest")
    pack = cp.session_pack(project=proj.display_name, project_root=str(proj.root), agent=event.agent,
                           digests=digests, memories=pool, budget=budget)
    _write_context_md(app, event.agent, proj, pack, {m.id: m for m in [*digests, *pool]}, paths)
    if pack.ids:
        _write_injected(paths, event, set(pack.ids))
    return pack.text


def _write_context_md(app: App, agent: str, proj: ProjectIdentity, pack: cp.Pack, by_id: dict[int, Any],
                      paths: Paths) -> None:
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


def _recall(app: App, event: HookEvent, proj: ProjectIdentity, paths: Paths) -> str:
    from nexus_memory.integrations import context_pack as cp

    if not event.prompt:
        return ""
    budget = cp.context_budget(event.agent, app.settings.subconscious_mode, per_prompt=True)
    if budget <= 0:
        return ""
    hits = _search(app, event.prompt)
    injected = _read_injected(paths, event)
    pack = cp.recall_pack(event.prompt, hits, exclude_ids=injected, session_key=_session_key(event), budget=budget)
    if pack.ids:
        _write_injected(paths, event, injected | set(pack.ids))
    return pack.text


def _search(app: App, prompt: str) -> list[tuple[Any, float]]:
    from nexus_memory.integrations import context_pack as cp
    from nexus_memory.integrations import serve_client

    query = prompt[:2000]
    remote = serve_client.search(app.settings.port, app.settings.api_token, query, RECALL_CANDIDATES)
    if remote is not None:
        found = [cp.memory_from_api(h) for h in remote]
        return [f for f in found if f is not None]
    from nexus_memory.services.search import SearchQuery

    return [(h.memory, h.score) for h in app.search.search(SearchQuery(text=query, limit=RECALL_CANDIDATES))]


# ----------------------------------------------------------------------------------------- worker
def spawn_worker(settings: Settings) -> None:
    """A detached `nexus hook --worker`: survives the tool killing the hook, writes nothing to it."""
    import subprocess

    cmd = [sys.executable, "-m", "nexus_memory.cli.main", "hook", "--worker"]
    if not settings.database_url:
        cmd += ["--db", str(settings.database_path)]
    try:
        subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                         start_new_session=True, close_fds=True)
    except OSError as exc:
        log_error(settings.paths.log_dir, f"cannot start the hook worker: {exc}")


def _worker_lock(settings: Settings) -> Path:
    lock_path = settings.paths.spool_dir / "worker.lock"
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    return lock_path


def worker_running(settings: Settings) -> bool:
    import fcntl

    fd = os.open(_worker_lock(settings), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    finally:
        os.close(fd)


def run_worker(settings: Settings) -> int:
    """Drain both spools with the full app (cognition on), one worker at a time.

    After releasing the lock the worker looks once more: an event appended while it was
    finishing is either seen here or its hook found the lock free and started a new worker.
    """
    import fcntl

    paths = Paths(settings)
    done = 0
    for _ in range(50):
        fd = os.open(_worker_lock(settings), os.O_RDWR | os.O_CREAT, 0o600)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return done  # another worker is draining
            done += _drain_all(settings, paths)
            fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)
        if not (paths.events.pending() or paths.work.pending()):
            break
    return done


def _drain_all(settings: Settings, paths: Paths) -> int:
    try:
        from nexus_memory.app import build_app

        app = build_app(settings, embeddings=False)
    except Exception as exc:
        log_error(paths.log_dir, f"database unavailable, {paths.events.count()} event(s) stay in the spool: "
                  f"{type(exc).__name__}: {exc}")
        return 0
    done = 0
    try:
        for _ in range(20):
            n = paths.events.drain(lambda recs: _store_records(app, recs, paths))
            n += paths.work.drain(lambda recs: _do_work(app, recs, paths))
            done += n
            if not n:
                break
    except Exception as exc:
        log_error(paths.log_dir, f"hook worker: {type(exc).__name__}: {exc}")
    finally:
        app.close()
    return done


def _do_work(app: App, records: list[dict[str, Any]], paths: Paths) -> None:
    timeout = float(app.settings.cognition.session_end_dream_timeout_secs)
    for rec in records:
        event = HookEvent.from_dict(rec.get("event") or {})
        if rec.get("type") == "end":
            proj = _project(event.cwd or "/")
            read_transcript(app, event, proj, paths)
            app.sessions.end(event.agent, event.session_id, event.cwd)
            _reset_injected(paths, event)
            if event.transcript_path:
                from nexus_memory.integrations.transcripts import Watermarks

                Watermarks(paths.transcripts).forget(event.agent, event.session_id or event.transcript_path)
        elif rec.get("type") == "drain":
            app.cognition.drain(f"hook-{event.agent}", agent=event.agent, timeout_secs=timeout)
