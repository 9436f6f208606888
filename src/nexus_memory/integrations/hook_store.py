"""Storing what a hook event holds: records by channel, transcript turns, extracted facts, error -> fix.

Runs in the hook process for prompts (the prompt hook opens the store anyway) and in the detached
spool worker for everything else. Every text is stored once: the prompt and the final message are
recorded in a per-session "seen" list, and a transcript turn already stored through its own event
is skipped (`Seen`). Extraction and failure/fix pairing are deterministic and cheap; they link what
they write to the episode it came from (lineage), and never archive anything.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nexus_memory.integrations import capture
from nexus_memory.integrations.events import (
    POST_COMPACT,
    PRE_COMPACT,
    SESSION_END,
    SESSION_START,
    STOP,
    SUBAGENT_STOP,
    TOOL,
    TOOL_FAILURE,
    HookEvent,
)
from nexus_memory.integrations.paths import Paths
from nexus_memory.integrations.spool import log_error

if TYPE_CHECKING:
    from nexus_memory.app import App
    from nexus_memory.domain.models import Memory
    from nexus_memory.project import ProjectIdentity
    from nexus_memory.services.memories import StoreRequest

TRANSCRIPT_AGENTS = frozenset({"claude-code", "codex", "gemini", "qwen"})
#: How often a busy session's runtime state file is refreshed (its idle timeout is 900 s).
RUNTIME_REFRESH_SECS = 60


def text_hash(text: str) -> str:
    """64 bits (crc32 and adler32) of the normalised text: enough to tell a session's few hundred texts
    apart, and zlib is built in, where hashlib costs the prompt hook ~3 ms of OpenSSL loading."""
    import zlib

    data = " ".join(text.split()).casefold().encode("utf-8")
    return f"{zlib.crc32(data):08x}{zlib.adler32(data):08x}"


class Seen:
    """Hashes of the texts a session already stored (append-only file, one hash a line)."""

    def __init__(self, folder: Path, agent: str, session: str) -> None:
        from nexus_memory.domain.sessions import sanitize_component

        self.path = folder / f"{sanitize_component(agent)}__{sanitize_component(session)[:120]}.txt"

    def hashes(self) -> set[str]:
        try:
            return set(self.path.read_text(encoding="utf-8").split())
        except OSError:
            return set()

    def add(self, texts: Iterable[str]) -> None:
        lines = "".join(text_hash(t) + "\n" for t in texts if t.strip())
        if not lines:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, lines.encode("utf-8"))
        finally:
            os.close(fd)

    def forget(self) -> None:
        self.path.unlink(missing_ok=True)


def seen_for(app: App, event: HookEvent) -> Seen:
    return Seen(app.settings.paths.state_dir / "hooks" / "seen", event.agent, session_key(event))


def session_key(event: HookEvent) -> str:
    from nexus_memory.domain.sessions import derive_session_key

    return derive_session_key(event.agent, event.session_id, event.cwd)


def project(cwd: str, cache_dir: Path | None = None) -> ProjectIdentity:
    from nexus_memory.project import resolve_project

    return resolve_project(Path(cwd), with_remote=False, cache_dir=cache_dir)


def hook_meta(event: HookEvent, proj: ProjectIdentity) -> dict[str, Any]:
    """Where an event happened: the project (its key: the repository inside git), and inside git the
    branch, the worktree and the commit checked out (facets recall's branch rule reads)."""
    meta = {"agent": event.agent, "event": event.event_name, "kind": event.kind, "session_id": event.session_id,
            "tool_name": event.tool_name, "event_id": event.fingerprint(), "project": proj.display_name,
            "project_root": str(proj.root), "cwd": event.cwd, "observed_at": event.observed_at}
    if proj.checkout is not None:
        meta.update({"project_id": proj.id, "branch": proj.checkout.branch, "worktree": str(proj.checkout.worktree),
                     "commit": proj.checkout.head})
    return meta


#: Kinds of record whose text is checked for code it names (anchors): what an agent found or ran,
#: stored by the hook worker, never on the prompt's path.
ANCHORED_KINDS = frozenset({"finding", "extracted", "resolution"})


def code_section(text: str, event: HookEvent, proj: ProjectIdentity) -> dict[str, Any] | None:
    """`metadata.code` for a text that names tracked files of the checkout (issue 16), else None."""
    if proj.checkout is None:
        return None
    from nexus_memory.project.anchors import make_anchors

    anchors = make_anchors(text, proj.checkout, Path(event.cwd or proj.root))
    return {"anchors": anchors, "state": "verified", "changes": []} if anchors else None


def request(record: capture.Record, event: HookEvent, proj: ProjectIdentity, *, source: str = "hook_ingest",
            extra: dict[str, Any] | None = None) -> StoreRequest:
    from nexus_memory.domain.enums import CognitiveLevel
    from nexus_memory.services.memories import StoreRequest

    key = session_key(event)
    metadata: dict[str, Any] = {"hook": hook_meta(event, proj), "capture": {"kind": record.kind, **record.facets},
                                **(extra or {})}
    if record.kind in ANCHORED_KINDS:
        try:
            code = code_section(record.text, event, proj)
        except Exception:  # anchors are a bonus: the memory is stored without them
            code = None
        if code:
            metadata["code"] = code
    if record.level == "raw":
        metadata["raw_activity"] = {"event": event.event_name, "derived_session_key": key,
                                    "observed_at": event.observed_at, "distill_pending": True}
    return StoreRequest(
        content=record.text, agent=event.agent, category=record.category,
        labels=(*record.labels, "hook", event.kind), metadata=metadata, session_key=key,
        context=f"project {proj.display_name}", level=CognitiveLevel.parse(record.level),
        confidence=record.confidence, source_stage=source,
    )


def requests_for(event: HookEvent, proj: ProjectIdentity) -> list[StoreRequest]:
    """What an event stores (nothing for lifecycle events or paths the project's ignore rules exclude)."""
    from nexus_memory.integrations.ignore import IgnoreRules

    if event.kind in (SESSION_START, SESSION_END) or IgnoreRules.load(proj.root).excludes(event, proj.root):
        return []
    return [request(r, event, proj) for r in capture.records(event)]


def capture_event(app: App, event: HookEvent, proj: ProjectIdentity) -> int:
    """Store what the event holds; keep the session runtime alive. Returns memories written."""
    reqs = requests_for(event, proj)
    if event.kind != SESSION_START and not _runtime_fresh(app, event):
        app.sessions.start(event.agent, event.session_id, event.cwd)
    if not reqs:
        return 0
    outcomes = app.memories.store_many(reqs)
    said = [r.content for r in reqs if r.level.value != "raw" or "prompt" in r.labels or "assistant" in r.labels]
    if said:
        seen_for(app, event).add(said)
    for outcome in outcomes:
        if not outcome.created:
            continue
        if event.kind in (TOOL, TOOL_FAILURE):
            _supersede_observations(app, outcome.memory, proj.scope_keys(), "raw-activity")
            _extract(app, event, proj, outcome.memory)
            if event.kind == TOOL and str(event.tool_name or "").lower() in capture.EDIT_TOOLS:
                _apply_edit_to_read(app, event, proj, outcome.memory)
        elif outcome.memory.level().value in ("explicit", "derived"):
            revise(app, outcome.memory, proj.scope_keys())
    if any(o.created for o in outcomes):
        enqueue(app, outcomes[0].memory.namespace_id, "activity_distill", {"session_key": session_key(event)}, 70)
    return len(outcomes)


def process(app: App, event: HookEvent, proj: ProjectIdentity, paths: Paths) -> None:
    """Everything an event stores: memories, transcript increments, compaction markers."""
    capture_event(app, event, proj)
    if event.kind in (STOP, SUBAGENT_STOP, PRE_COMPACT, POST_COMPACT):
        read_transcript(app, event, proj, paths)
    if event.kind in (PRE_COMPACT, POST_COMPACT):
        app.sessions.event(event.agent, event.session_id, event.cwd, "compact", event.trigger or "")
        reset_injected(paths, event)


def _runtime_fresh(app: App, event: HookEvent) -> bool:
    """The session's runtime state was refreshed within a minute: no need to rewrite (and fsync) it."""
    import time

    from nexus_memory.domain.agents import canonicalize_agent_type
    from nexus_memory.runtime.state import state_file_path

    agent = canonicalize_agent_type(event.agent)
    path = state_file_path(app.settings.paths.runtime_dir, agent, session_key(event))
    try:
        return time.time() - path.stat().st_mtime < RUNTIME_REFRESH_SECS
    except OSError:
        return False


def enqueue(app: App, namespace_id: int, job_type: str, payload: dict[str, Any], priority: int) -> None:
    try:
        app.store.enqueue_job(namespace_id, job_type, payload, priority=priority)
    except Exception as exc:  # the memory is stored; a missing job is only a later distillation
        log_error(app.settings.paths.log_dir, f"enqueue {job_type} failed: {exc}")


# ----------------------------------------------------------------------------------------- injected ids
def _injected_path(paths: Paths, event: HookEvent) -> Path:
    from nexus_memory.domain.sessions import sanitize_component

    return paths.injected / f"{sanitize_component(event.agent)}__{sanitize_component(session_key(event))[:120]}.json"


def read_injected(paths: Paths, event: HookEvent) -> set[int]:
    try:
        data = json.loads(_injected_path(paths, event).read_text(encoding="utf-8"))
        return {int(i) for i in data.get("ids", [])}
    except (OSError, ValueError, TypeError, AttributeError):
        return set()


def write_injected(paths: Paths, event: HookEvent, ids: set[int]) -> None:
    path = _injected_path(paths, event)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps({"ids": sorted(ids)}), encoding="utf-8")
    os.replace(tmp, path)


def reset_injected(paths: Paths, event: HookEvent) -> None:
    """After compaction the model lost what we injected: allow it again."""
    _injected_path(paths, event).unlink(missing_ok=True)



# ----------------------------------------------------------------------------------------- revision
def revise(app: App, memory: Memory, project_root: str | tuple[str, ...]) -> list[int]:
    """A statement that says something changed supersedes what earlier sessions of this project said
    about the same thing (domain/extract.revises): the older memories are marked superseded, linked
    (`supersedes`), and recall offers the newer one only. Returns the superseded ids."""
    from nexus_memory.domain import extract
    from nexus_memory.domain.models import MemoryFilter
    from nexus_memory.services.recall import offerable, project_of

    if not extract.is_revision(memory.content):
        return []
    keys = (project_root,) if isinstance(project_root, str) else project_root
    hits = app.store.text_search(memory.content[:2000], MemoryFilter(include_raw=True), limit=30)
    older = [m for m in app.store.get_many([h.memory_id for h in hits if h.memory_id < memory.id])
             if m.session_key != memory.session_key and project_of(m) in keys and offerable(m)
             and extract.revises(memory.content, m.content)]
    return supersede(app, memory.id, older, "revision")


def supersede(app: App, newer: int, older: Iterable[Memory], reason: str) -> list[int]:
    """Mark `older` superseded by `newer` (metadata, a `supersedes` relation, lineage); their ids."""
    from nexus_memory.domain.enums import EvidenceRole, RelationType
    from nexus_memory.domain.models import Evidence, MemoryRelation

    updates = []
    for m in older:
        cog = m.cognitive
        if cog is None or cog.resolution_status == "superseded":
            continue
        cog.resolution_status = "superseded"
        updates.append((m.id, cog.merge_into(m.metadata)))
        app.store.add_relation(MemoryRelation(newer, m.id, RelationType.SUPERSEDES.value, 1.0, {"reason": reason}))
    if updates:
        app.store.update_metadata_many(updates)
        app.store.add_evidence([Evidence(newer, mid, EvidenceRole.SUPERSEDES.value) for mid, _ in updates])
    return [mid for mid, _ in updates]


# ----------------------------------------------------------------------------------------- extraction
def _extract(app: App, event: HookEvent, proj: ProjectIdentity, episode: Memory) -> None:
    """Fact lines of a tool's output (derived, lineage to the episode); a fix pairs with its failure."""
    run = capture.tool_run(event)
    _store_facts(app, event, proj, run, episode)
    if run.shell and not run.failed and run.command:
        _pair_fix(app, event, proj, run, episode)


def _store_facts(app: App, event: HookEvent, proj: ProjectIdentity, run: capture.ToolRun, episode: Memory) -> None:
    """The fact lines of what `run` showed, as one extracted memory made from `episode`; it supersedes
    the facts of what it makes out of date (`_supersede_observations`)."""
    from nexus_memory.domain.enums import EvidenceRole

    facts = capture.facts_of(run)
    if not facts:
        return
    facets = {"tool": run.tool, **({"command": run.command[:500]} if run.command else {}),
              **({"target": run.target} if run.target else {})}
    rec = capture.Record(facts, "extracted", "derived", "facts", ("extracted", f"tool:{run.tool}"[:100],
                                                                  *(("error",) if run.failed else ())), 0.7, facets)
    outcome = app.memories.store_derived(request(rec, event, proj, source="hook_extract"), [episode.id],
                                         EvidenceRole.DERIVED_FROM.value)
    if outcome.created:
        _supersede_observations(app, outcome.memory, proj.scope_keys(), "extracted")


def _capture_facets(memory: Memory) -> dict[str, Any]:
    cap = memory.metadata.get("capture") if isinstance(memory.metadata, dict) else None
    return cap if isinstance(cap, dict) else {}


def _observed(memory: Memory) -> str | None:
    """What an episode (or a fact extracted from one) observed: `read <file>` for a read tool or a
    shell command that only prints a file (`cat`, `sed -n`, `head`), else `$ <command>`; None for
    everything else (edits are history, not state)."""
    cap = _capture_facets(memory)
    command = str(cap.get("command") or "")
    if str(cap.get("tool", "")).lower() in capture.EDIT_TOOLS:
        return None
    if command:
        read = capture.file_read_by(command)
        return f"read {read}" if read else f"$ {command}"
    if str(cap.get("tool", "")).lower() in capture.READ_TOOLS and cap.get("target"):
        return f"read {cap['target']}"
    return None


def _same_file(a: str, b: str) -> bool:
    """Two spellings of one file: equal, or one the other's path below a folder (absolute vs relative)."""
    a, b = a.removeprefix("./"), b.removeprefix("./")
    return a == b or a.endswith("/" + b) or b.endswith("/" + a)


def _superseded_by(fresh: Memory) -> tuple[str, str] | None:
    """(key, reason): what a new episode makes out of date. The same command run again or the same
    file read again: its newer output is the current truth (`node --version` printed v20 last week
    and v22 today). A file written whole (Write, write_file): what reads of it showed before is the
    old text, and the write holds the new one. A string edit is applied to the read instead
    (`_apply_edit_to_read`): the rest of what the read shows is still true (BENCHMARKS.md)."""
    key = _observed(fresh)
    if key:
        return key, "newer output of the same command"
    cap = _capture_facets(fresh)
    tool = str(cap.get("tool", "")).lower()
    if tool in capture.WHOLE_FILE_WRITES:
        files = capture.files_edited(str(cap.get("target") or ""), str(cap.get("command") or ""))
    elif tool == "apply_patch":  # a patch that adds (writes whole) or deletes a file read before
        files = [f.path for f in capture.patched_files(str(cap.get("command") or "")) if f.action in ("add", "delete")]
    else:
        files = []
    if files:
        return "edit " + "\n".join(files), "the file was rewritten after it was read"
    return None


def _apply_edit_to_read(app: App, event: HookEvent, proj: ProjectIdentity, edit: Memory) -> None:
    """A string edit (old -> new) of a file this project saw read, or a Codex `apply_patch` hunk: the
    newest read's text with the edit applied is what the file holds now, as far as it was seen. It is
    stored as a read of its own (lineage to the read and the edit) and supersedes the read and the facts
    extracted from it, so the replaced line is not offered beside the edit while the untouched lines stay
    offerable. Nothing happens to a file whose read does not show every replaced text (cut, or another
    version of the file)."""
    pairs = capture.edit_pairs(event.tool_input)
    target = capture.tool_run(event).target
    if pairs and target:
        _apply_to_read(app, event, proj, edit, target, pairs)
        return
    patch = capture.patch_text(event.tool_input)
    for patched in capture.patched_files(patch) if patch else ():
        if patched.hunks:
            _apply_to_read(app, event, proj, edit, patched.path, list(patched.hunks))


def _apply_to_read(app: App, event: HookEvent, proj: ProjectIdentity, edit: Memory, target: str,
                   pairs: list[tuple[str, str]]) -> None:
    from nexus_memory.domain.enums import EvidenceRole
    from nexus_memory.domain.models import MemoryFilter
    from nexus_memory.services.recall import project_of

    keys = proj.scope_keys()
    scope = MemoryFilter(labels=("raw-activity",), include_raw=True, projects=keys)
    read = next((m for m in app.memories.list_memories(scope, limit=200, order="newest")
                 if m.id < edit.id and project_of(m) in keys and _is_read_of(m, target)
                 and not (m.cognitive and m.cognitive.resolution_status == "superseded")), None)
    if read is None:
        return
    head, _, body = read.content.partition("\n")  # the command or "Read <file>:", then what it showed
    for old, new in pairs:
        if old not in body:
            return
        body = body.replace(old, new, 1)
    text = f"{head}\n{body}"
    facets = {k: str(v) for k, v in _capture_facets(read).items() if k in ("tool", "command", "target") and v}
    rec = capture.Record(text, "episode", "raw", "session", ("raw-activity", "as-edited"), capture.EPISODE_CONFIDENCE,
                         {**facets, "as_edited_by": str(edit.id)})
    outcome = app.memories.store_derived(request(rec, event, proj, source="hook_edit"), [read.id, edit.id],
                                         EvidenceRole.DERIVED_FROM.value)
    if not outcome.created:
        return
    _supersede_observations(app, outcome.memory, keys, "raw-activity")
    _store_facts(app, event, proj, capture.ToolRun(facets.get("tool", "Read"), facets.get("command"),
                                                   facets.get("target", target), body, False, None), outcome.memory)


def _is_read_of(memory: Memory, path: str) -> bool:
    seen = _observed(memory)
    return seen is not None and seen.startswith("read ") and _same_file(seen[5:], path)


def _supersede_observations(app: App, fresh: Memory, keys: tuple[str, ...], label: str) -> None:
    """Older episodes (`label` raw-activity) or facts extracted from them (`label` extracted) that
    a new episode makes out of date are superseded (`_superseded_by`). A failure that a later run
    fixed stays linked to its fix (`resolved_by`) and to the resolution."""
    from nexus_memory.domain.models import MemoryFilter
    from nexus_memory.services.recall import project_of

    found = _superseded_by(fresh)
    if not found:
        return
    key, reason = found
    if key.startswith("edit "):
        files = key[5:].split("\n")

        def matches(m: Memory) -> bool:
            seen = _observed(m)
            return seen is not None and seen.startswith("read ") and any(_same_file(seen[5:], f) for f in files)
        labels = (label, "extracted") if label != "extracted" else (label,)
    else:
        def matches(m: Memory) -> bool:
            seen = _observed(m)
            if seen is None:
                return False
            if seen.startswith("read ") and key.startswith("read "):
                return _same_file(seen[5:], key[5:])
            return seen == key
        labels = (label,)
    older: list[Memory] = []
    for lab in labels:
        scope = MemoryFilter(labels=(lab,), include_raw=True, projects=keys)
        older += [m for m in app.memories.list_memories(scope, limit=200, order="newest")
                  if m.id < fresh.id and project_of(m) in keys and matches(m)]
    supersede(app, fresh.id, older, reason)


def _pair_fix(app: App, event: HookEvent, proj: ProjectIdentity, run: capture.ToolRun, success: Memory) -> None:
    """A command that failed earlier in this session and passes now: link the two (`resolved_by`) and
    write the resolution down, with the files changed in between."""
    from nexus_memory.domain import extract
    from nexus_memory.domain.enums import EvidenceRole
    from nexus_memory.domain.models import MemoryFilter, MemoryRelation

    key = extract.command_key(run.command or "")
    if key is None:
        return
    recent = app.memories.list_memories(MemoryFilter(session_key=session_key(event), include_raw=True),
                                        limit=200, order="newest")
    failure = None
    for m in recent:
        cap = m.metadata.get("capture") if isinstance(m.metadata, dict) else None
        if m.id >= success.id or not isinstance(cap, dict) or cap.get("kind") != "episode":
            continue
        if "error" in m.labels and cap.get("command") and not cap.get("resolved_by") \
                and extract.command_key(str(cap["command"])) == key:
            failure = m
            break
    if failure is None:
        return
    touched = []
    for m in recent:
        cap = m.metadata.get("capture") if isinstance(m.metadata, dict) else None
        if isinstance(cap, dict) and failure.id < m.id < success.id and cap.get("target") and \
                str(cap.get("tool", "")).lower() in extract.EDIT_TOOLS and cap["target"] not in touched:
            touched.append(str(cap["target"]))
    app.store.add_relation(MemoryRelation(failure.id, success.id, "resolved_by"))
    app.store.update_metadata_many([(failure.id, {**failure.metadata, "capture": {
        **failure.metadata.get("capture", {}), "resolved_by": success.id}})])
    failed_lines = [ln for ln in extract.informative_lines(failure.content.split("\n", 1)[-1], limit=3)
                    if extract.line_weight(ln) >= 2]
    passed_lines = extract.informative_lines(run.output, limit=2)
    text = (f"`{' '.join(str(failure.metadata['capture']['command']).split())[:200]}` failed"
            + (f" ({'; '.join(failed_lines)})" if failed_lines else "")
            + (f"; fixed by changing {', '.join(touched[:6])}" if touched else "; fixed")
            + f"; `{' '.join((run.command or '').split())[:200]}` then passed"
            + (f" ({'; '.join(passed_lines)})" if passed_lines else "") + ".")
    rec = capture.Record(text, "resolution", "derived", "facts", ("resolution", "error-fix"), 0.8)
    app.memories.store_derived(request(rec, event, proj, source="hook_extract"), [failure.id, success.id],
                               EvidenceRole.DERIVED_FROM.value)


# ----------------------------------------------------------------------------------------- transcripts
def read_transcript(app: App, event: HookEvent, proj: ProjectIdentity, paths: Paths) -> int:
    """New transcript turns since the watermark, each stored once (turns stored through their own
    events are skipped); then the watermark advances."""
    from nexus_memory.integrations.transcripts import Watermarks, read_new

    if event.agent not in TRANSCRIPT_AGENTS or not event.transcript_path:
        return 0
    transcript = Path(event.transcript_path).expanduser()
    if not transcript.is_file():
        return 0
    marks = Watermarks(paths.transcripts)
    with marks.locked(event.agent, event.session_id or str(transcript)) as mark_path:
        old_mark = marks.read(mark_path)
        turns, new_mark = read_new(transcript, old_mark)
        if new_mark.get("skipped_lines", 0) != old_mark.get("skipped_lines", 0):
            log_error(paths.log_dir, f"transcript {transcript}: a line over the read cap at byte "
                      f"{new_mark.get('last_skip_offset')} was skipped")
        if turns:
            pairs = [(t.role, t.text) for t in turns]
            try:
                store_turns(app, event, proj, pairs)
            except Exception as exc:
                log_error(paths.log_dir, f"transcript turns spooled: {type(exc).__name__}: {exc}")
                paths.events.append([{"type": "transcript", "event": event.to_dict(), "turns": pairs}])
        marks.write(mark_path, new_mark)
    return len(turns)


def store_turns(app: App, event: HookEvent, proj: ProjectIdentity, turns: list[tuple[str, str]]) -> int:
    """Transcript turns not yet stored: the user's as prompts, the last assistant turn of a finished turn
    as its finding (when the Stop event carried none), other assistant text as episodes."""
    from nexus_memory.domain.redaction import redact_text

    seen = seen_for(app, event)
    known = seen.hashes()
    last_assistant = max((i for i, (role, _) in enumerate(turns) if role == "assistant"), default=-1)
    reqs: list[StoreRequest] = []
    for i, (role, raw_text) in enumerate(turns):
        text = redact_text(raw_text).strip()
        h = text_hash(text)
        if not text or h in known:
            continue
        known.add(h)
        if role == "user":
            rec = capture.prompt_record(text)
        elif i == last_assistant and event.kind in (STOP, SUBAGENT_STOP) and not event.assistant_text:
            rec = capture.finding_record(text)
        else:
            rec = capture.Record(text[: capture.FINDING_MAX_CHARS], "episode", "raw", "session",
                                 ("raw-activity", "assistant", "transcript"), capture.EPISODE_CONFIDENCE)
        reqs.append(request(rec, event, proj, source="transcript_ingest"))
    if not reqs:
        return 0
    outcomes = app.memories.store_many(reqs)
    seen.add(r.content for r in reqs)
    if any(o.created for o in outcomes):
        enqueue(app, outcomes[0].memory.namespace_id, "activity_distill", {"session_key": session_key(event)}, 70)
    return len(reqs)


def store_records(app: App, records: list[dict[str, Any]], paths: Paths) -> None:
    """Spooled records, drained by the worker."""
    for rec in records:
        event = HookEvent.from_dict(rec.get("event") or {})
        proj = project(event.cwd or "/", paths.projects)
        if rec.get("type") == "transcript":
            turns = rec.get("turns")
            if isinstance(turns, list):
                store_turns(app, event, proj, [(str(p[0]), str(p[1])) for p in turns
                                               if isinstance(p, (list, tuple)) and len(p) == 2])
            elif rec.get("text"):  # spooled by an earlier version: one excerpt
                store_turns(app, event, proj, [("assistant", str(rec["text"]))])
        else:
            process(app, event, proj, paths)
