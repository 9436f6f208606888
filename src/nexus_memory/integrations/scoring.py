"""Capture scoring: which events become candidate memories, and which stay raw activity.

Baseline: upstream reference 7.3 (`derive_candidates`). Two deliberate changes, both
because upstream's rule made nearly every tool call a "memory":
- a response containing "/" or "." no longer counts as a signal (every path and sentence does);
- read-only tools (Read, Grep, Glob, LS, WebFetch, ...) earn nothing for their input.
The acceptance bar is 0.5 (upstream 0.3 with the weak markers above, which it always met).

Levels: what a person typed (a prompt, a stated preference) is `explicit` - it is their own
statement, recorded verbatim. What the heuristics infer from tool activity or from the
assistant's text is `derived`, with the score as its confidence; the dream cycle may later
reinforce or contradict it. Everything under the bar is kept whole as `raw` activity
(label `raw-activity`, confidence 0.35) for the distillation stage.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from nexus_memory.integrations.events import POST_COMPACT, PROMPT, STOP, SUBAGENT_STOP, TOOL, TOOL_FAILURE, HookEvent

ACCEPT = 0.5
RAW_CONFIDENCE = 0.35
RAW_MAX_CHARS = 50_000

_SHELL_TOOLS = {"bash", "shell", "run_shell_command", "execute", "exec_command", "terminal", "run_in_terminal",
                "local_shell", "powershell"}
_READ_ONLY = {"read", "read_file", "read_many_files", "grep", "glob", "ls", "list_directory", "search_file_content",
              "webfetch", "web_fetch", "websearch", "google_web_search", "view", "todowrite", "todoread"}
_LOW_SIGNAL_CMDS = ("ls", "pwd", "whoami", "date", "uptime", "echo", "cd", "cat", "clear")
_RESULT_MARKERS = re.compile(
    r"test result:|\bpass(ed|es)?\b|\bfail(ed|s|ure)?\b|error:|warning:|\bversion\b|compil|\bbuild\b|traceback|"
    r"exception", re.I)
_TEST_WORDS = re.compile(r"\b(pytest|test|tests|cargo test|npm test|jest|vitest|go test|unittest|verify)\b", re.I)
_DECISION = re.compile(r"\b(decided|decision|we will|i will|going to|chose|instead of|root cause|the fix)\b", re.I)
_PREFERENCE = re.compile(r"\b(prefer|always|never|don't|do not|please use|use \w+ instead)\b", re.I)


@dataclass(frozen=True, slots=True)
class Candidate:
    text: str
    category: str
    labels: tuple[str, ...]
    confidence: float
    level: str  # explicit | derived
    evidence: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class RawActivity:
    text: str
    labels: tuple[str, ...]


def _short(text: str, n: int) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= n else flat[: n - 1] + "…"


def is_shell(tool: str | None) -> bool:
    return (tool or "").lower() in _SHELL_TOOLS


def score(event: HookEvent) -> tuple[float, bool]:
    """(signal score, low-signal shell command) for an event."""
    s = 0.0
    tool = (event.tool_name or "").lower()
    cmd = (event.command() or "").strip()
    low = is_shell(tool) and (not cmd or cmd.split()[0] in _LOW_SIGNAL_CMDS)
    response = (event.tool_response or "") + "\n" + (event.error or "")
    if event.kind in (TOOL, TOOL_FAILURE):
        if low:
            s += 0.1
        elif _RESULT_MARKERS.search(response):
            s += 0.3
        if tool and event.tool_input_text() and not low and tool not in _READ_ONLY:
            s += 0.3
    if event.kind in (STOP, SUBAGENT_STOP) and event.assistant_text and len(event.assistant_text) > 20:
        s += 0.2
        if _DECISION.search(event.assistant_text):
            s += 0.3
    if event.kind == PROMPT and event.prompt and len(event.prompt) > 20:
        s += 0.2 + 0.3
    name = event.event_name.lower()
    if "plan" in name or "review" in name:
        s += 0.2
    return min(s, 1.0), low


def derive(event: HookEvent) -> list[Candidate]:
    """Candidate memories of an event (empty when nothing clears the bar)."""
    if event.kind == POST_COMPACT and event.summary:
        return [Candidate(f"Session summary (after compaction): {event.summary}", "context",
                          ("compact-summary", "session-summary"), 0.6, "derived")]
    s, _low = score(event)
    if s < ACCEPT:
        return []
    labels = ["high-signal" if s >= 0.7 else "medium-signal"]
    tool = event.tool_name or ""
    if tool:
        labels.append(f"tool:{tool}")
    response = (event.tool_response or event.error or "").strip()
    if event.kind == PROMPT and event.prompt:
        preference = bool(_PREFERENCE.search(event.prompt))
        labels.append("preference" if preference else "prompt")
        return [Candidate(event.prompt.strip(), "preferences" if preference else "context", tuple(labels),
                          0.8 if preference else round(s, 2), "explicit")]
    if event.kind in (STOP, SUBAGENT_STOP) and event.assistant_text:
        text = event.assistant_text.strip()
        if _DECISION.search(text):
            labels.append("decision")
            return [Candidate(f"Decision: {_short(text, 300)}", "context", tuple(labels), round(s, 2), "derived")]
        return [Candidate(_short(text, 600), "context", tuple(labels), round(s, 2), "derived")]
    cmd = event.command()
    category = "general"
    if event.kind == TOOL_FAILURE or "error" in response.lower()[:400] or event.error:
        labels.append("error")
    if (cmd and _TEST_WORDS.search(cmd)) or "test result" in response.lower():
        labels.append("verification")
        category = "facts"
    if is_shell(tool) and cmd:
        outcome = _short(response, 160) if response else "(no output)"
        text = f"Ran `{_short(cmd, 200)}` → {outcome}"
        if re.search(r"test result|\bpass(ed)?\b|\bfail(ed)?\b", response, re.I):
            category = "facts"
    else:
        target = _target(event)
        verb = "Failed" if event.kind == TOOL_FAILURE else "Used"
        text = f"{verb} {tool or 'a tool'}{' on ' + target if target else ''}"
        if response:
            text += f" → {_short(response, 160)}"
    evidence = {"tool_name": tool, "tool_input": _short(event.tool_input_text(), 200),
                "response": _short(response, 200)}
    return [Candidate(text, category, tuple(dict.fromkeys(labels)), round(s, 2), "derived", evidence)]


def _target(event: HookEvent) -> str:
    ti = event.tool_input
    if isinstance(ti, dict):
        for key in ("file_path", "filePath", "path", "absolute_path", "url", "pattern", "query"):
            if ti.get(key):
                return _short(str(ti[key]), 160)
    return ""


def raw_activity(event: HookEvent) -> RawActivity | None:
    """Upstream's raw-activity record: what happened, whole (capped), for distillation."""
    parts: list[str] = []
    if event.tool_name:
        parts.append(f"Tool '{event.tool_name}' executed:")
        if event.tool_input_text():
            parts.append(f"Input: {event.tool_input_text()[:4000]}")
        if event.tool_response:
            parts.append(f"Result: {event.tool_response}")
        if event.error:
            parts.append(f"Error: {event.error}")
    else:
        if event.prompt:
            parts.append(f"User: {event.prompt}")
        if event.assistant_text:
            parts.append(f"Assistant: {event.assistant_text}")
        if event.summary:
            parts.append(f"Summary: {event.summary}")
    if not parts:
        return None
    # The fingerprint makes the text unique per event and identical for a re-delivered
    # event, so the store's content dedup turns a replay (spool drain, retry) into a no-op.
    text = "\n".join(parts)[:RAW_MAX_CHARS] + f" [event:{event.event_name}:{event.fingerprint()[:12]}]"
    return RawActivity(text, ("session", "raw-activity", "distill-pending", event.kind))
