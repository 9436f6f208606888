"""One normalised `HookEvent` from the stdin payload of any agent tool.

Tolerant by design: unknown fields are ignored, snake_case / camelCase / kebab-case keys
are all read, PascalCase and camelCase event names map to one kind, timestamps may be ISO
strings or epoch milliseconds. Secrets and `<private>` spans are redacted here, before the
event can reach the store, the spool or a log; so are the context blocks the tools echo
back to us (Gemini's `<hook_context>`, Qwen's wrapper, our own `<nexus_...>` tags).
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from nexus_memory.domain.agents import canonicalize_agent_type
from nexus_memory.domain.jsonsafe import sanitize
from nexus_memory.domain.redaction import redact_text, redact_value

# Normalised kinds
SESSION_START = "session_start"
PROMPT = "prompt"
PRE_TOOL = "pre_tool"
TOOL = "tool"
TOOL_FAILURE = "tool_failure"
STOP = "stop"
SUBAGENT_STOP = "subagent_stop"
PRE_COMPACT = "pre_compact"
POST_COMPACT = "post_compact"
SESSION_END = "session_end"
NOTIFICATION = "notification"
OTHER = "other"

KINDS = (SESSION_START, PROMPT, PRE_TOOL, TOOL, TOOL_FAILURE, STOP, SUBAGENT_STOP, PRE_COMPACT, POST_COMPACT,
         SESSION_END, NOTIFICATION, OTHER)

_EVENT_KINDS: dict[str, str] = {
    "sessionstart": SESSION_START, "session.created": SESSION_START, "taskstart": SESSION_START,
    "userpromptsubmit": PROMPT, "userpromptsubmitted": PROMPT, "beforeagent": PROMPT,
    "beforesubmitprompt": PROMPT, "prompt": PROMPT, "chat.message": PROMPT,
    "pretooluse": PRE_TOOL, "beforetool": PRE_TOOL, "beforeshellexecution": PRE_TOOL,
    "posttooluse": TOOL, "aftertool": TOOL, "aftershellexecution": TOOL, "aftermcpexecution": TOOL,
    "afterfileedit": TOOL, "tool": TOOL, "tool.execute.after": TOOL,
    "posttoolusefailure": TOOL_FAILURE, "erroroccurred": TOOL_FAILURE,
    "stop": STOP, "afteragent": STOP, "agentstop": STOP, "afteragentresponse": STOP, "session.idle": STOP,
    "taskcomplete": STOP,
    "subagentstop": SUBAGENT_STOP,
    "precompact": PRE_COMPACT, "precompress": PRE_COMPACT, "experimental.session.compacting": PRE_COMPACT,
    "postcompact": POST_COMPACT, "session.compacted": POST_COMPACT,
    "sessionend": SESSION_END, "session.deleted": SESSION_END, "taskcancel": SESSION_END,
    "notification": NOTIFICATION,
}

# Blocks a tool echoes back from what we injected; never stored as if the user typed them.
_ECHO_BLOCKS = re.compile(
    r"<hook_context>.*?</hook_context>\s*"
    r"|<qwen:user-prompt-submit-context>.*?</qwen:user-prompt-submit-context>\s*"
    r"|<nexus_(context|recall|memory|guidance|delta)\b[^>]*>.*?</nexus_\1>\s*"
    r"|&lt;nexus_(context|recall|memory)\b.*?&lt;/nexus_\2&gt;\s*",
    re.S,
)

MAX_FIELD_CHARS = 50_000
#: Largest hook payload read from stdin; a larger one is logged and skipped (the hook still answers `{}`
#: at once). Tools send a few KB; 4 MiB is the HTTP API's body cap too.
MAX_STDIN_BYTES = 4 * 1024 * 1024
#: Deepest nesting kept from a payload; deeper parts become a marker string.
MAX_PAYLOAD_DEPTH = 24
#: Identifiers (session, turn, tool name, model) longer than this are cut: a tool name becomes a label.
MAX_NAME_CHARS = 64
MAX_ID_CHARS = 512
MAX_PATH_CHARS = 4096

# Shell results as the shipped CLIs format them (read from their packages, see docs/integrations.md):
# Qwen Code 0.24 (`chunks/chunk-DPEB6S2R.js`): "Command: ...\nDirectory: ...\nOutput: ...\nError: (none)\n
# Exit Code: 0\nSignal: (none)\nProcess Group PGID: ..."; Copilot CLI 1.0 appends
# "<shellId: 0 completed with exit code 0>", Droid 0.225 "[Process exited with code 0]".
_QWEN_SHELL = re.compile(r"\A(?:Command: .*?\n)?Directory: .*?\nOutput: (?P<out>.*)\nError: (?P<err>.*?)\n"
                         r"Exit Code: (?P<code>\S+)(?:\n.*)?\Z", re.S)
_EXIT_TRAILER = re.compile(r"\s*(?:<shellId: \S+ completed with exit code (?P<a>-?\d+)>"
                           r"|\[Process exited with code (?P<b>-?\d+)\])\s*\Z")


def event_kind(name: str) -> str:
    key = name.strip()
    lowered = key.lower()
    if lowered in _EVENT_KINDS:
        return _EVENT_KINDS[lowered]
    squashed = lowered.replace("-", "").replace("_", "").replace(" ", "")
    return _EVENT_KINDS.get(squashed, OTHER)


def strip_echoes(text: str) -> str:
    return _ECHO_BLOCKS.sub("", text).strip()


def _pick(payload: dict[str, Any], *names: str) -> Any:
    for name in names:
        if name in payload and payload[name] not in (None, ""):
            return payload[name]
    return None


#: Where tools put the text of a result (Gemini's llmContent, Copilot's textResultForLlm, ...).
_TEXT_KEYS = ("llmContent", "textResultForLlm", "text_result_for_llm", "text", "content", "output", "result")


def _text(value: Any) -> str | None:
    """Readable text from a tool response or message in any of the shapes tools use."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float, bool)):
        return str(value)
    if isinstance(value, list):
        parts = [_text(v) for v in value]
        joined = "\n".join(p for p in parts if p)
        return joined or None
    if isinstance(value, dict):
        for key in _TEXT_KEYS:
            inner = value.get(key)
            if isinstance(inner, (str, list)) and inner:
                return _text(inner)
        stdout, stderr = value.get("stdout"), value.get("stderr")
        if isinstance(stdout, str) or isinstance(stderr, str):
            return "\n".join(s for s in (stdout, stderr) if isinstance(s, str) and s) or ""
        for inner in value.values():  # one level down: Claude Code's Read answers {"type": "text", "file":
            if isinstance(inner, dict) and any(  # {"filePath", "content", ...}} (FileReadOutput, sdk-tools.d.ts)
                    isinstance(inner.get(k), (str, list)) and inner.get(k) for k in _TEXT_KEYS):
                return _text(inner)
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return str(value)


def _cap(text: str | None) -> str | None:
    if text is None:
        return None
    return text if len(text) <= MAX_FIELD_CHARS else text[:MAX_FIELD_CHARS] + " …[truncated]"


def _redacted(text: str | None) -> str | None:
    """Capped, then redacted, then capped again: redaction never pays for text that is dropped anyway
    (a 20 MB tool output costs what 50 KB does), and a secret cut by the first cap is past the second."""
    if not text:
        return None
    pre = text if len(text) <= MAX_FIELD_CHARS + 2000 else text[:MAX_FIELD_CHARS + 2000]
    return _cap(redact_text(pre)) or None


def _timestamp(value: Any) -> str:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        secs = value / 1000 if value > 1e11 else value
        try:
            return datetime.fromtimestamp(secs, UTC).isoformat().replace("+00:00", "Z")
        except (OverflowError, OSError, ValueError):
            pass
    if isinstance(value, str) and value.strip():
        return value.strip()
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


def _json_arg(value: Any) -> Any:
    """Copilot and Cursor send tool arguments as a JSON string; read it as an object."""
    if isinstance(value, str) and value.strip()[:1] in ("{", "["):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


@dataclass(slots=True)
class HookEvent:
    agent: str
    kind: str
    event_name: str
    observed_at: str
    session_id: str | None = None
    cwd: str | None = None
    transcript_path: str | None = None
    turn_id: str | None = None
    tool_name: str | None = None
    tool_input: Any = None
    tool_response: str | None = None
    error: str | None = None
    prompt: str | None = None
    assistant_text: str | None = None
    source: str | None = None
    reason: str | None = None
    trigger: str | None = None
    summary: str | None = None
    model: str | None = None
    raw: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> HookEvent:
        from dataclasses import fields

        known: dict[str, Any] = {f.name: data[f.name] for f in fields(cls) if f.name in data}
        known.setdefault("agent", "unknown")
        known.setdefault("kind", OTHER)
        known.setdefault("event_name", "unknown")
        known.setdefault("observed_at", _timestamp(None))
        if not isinstance(known.get("raw"), dict):
            known["raw"] = {}
        return cls(**known)

    def fingerprint(self) -> str:
        """Identity of this event: the same payload delivered twice gives the same id."""
        from nexus_memory.domain.hashing import sha256_hex  # not hashlib: OpenSSL costs a cold hook ~2.5 ms

        body = json.dumps(self.raw, sort_keys=True, ensure_ascii=False, default=str)
        return sha256_hex(f"{self.agent}|{self.event_name}|{self.session_id}|{body}")[:32]

    def tool_input_text(self) -> str:
        if self.tool_input in (None, "", {}, []):
            return ""
        if isinstance(self.tool_input, str):
            return self.tool_input
        return json.dumps(self.tool_input, ensure_ascii=False, sort_keys=True)

    def command(self) -> str | None:
        """The shell command of a shell tool call, whatever the tool calls it."""
        ti = self.tool_input
        if isinstance(ti, dict):
            cmd = ti.get("command") or ti.get("cmd")
            if isinstance(cmd, list):
                cmd = " ".join(str(c) for c in cmd)
            return str(cmd) if cmd else None
        return None


def detect_agent(agent: str, payload: dict[str, Any]) -> str:
    """The calling tool: Copilot CLI also fires hooks from `.claude/settings.json`."""
    canonical = canonicalize_agent_type(agent or "unknown")
    if canonical == "claude-code" and "session_id" not in payload and (
        "sessionId" in payload or "toolName" in payload
    ):
        return "copilot"
    return canonical


def normalize(agent: str, event_arg: str | None, payload: Any) -> HookEvent:
    """Map any tool's payload to a HookEvent (redacted)."""
    if not isinstance(payload, dict):
        payload = {"value": payload} if payload not in (None, "") else {}
    # Made safe before anything reads it: NaN/Infinity become strings, lone surrogates U+FFFD, nesting
    # past MAX_PAYLOAD_DEPTH a marker, every string at most MAX_FIELD_CHARS (so redaction below is bounded).
    payload = sanitize(payload, max_depth=MAX_PAYLOAD_DEPTH, max_chars=MAX_FIELD_CHARS)
    canonical = detect_agent(agent, payload)
    name = str(event_arg or _pick(payload, "hook_event_name", "hookEventName", "hookName", "event", "type") or "")
    kind = event_kind(name)
    if kind == OTHER and payload.get("hook_event_name"):
        name = str(payload["hook_event_name"])
        kind = event_kind(name)
    roots = _pick(payload, "workspace_roots", "workspaceRoots")
    cwd = _pick(payload, "cwd", "directory", "worktree")
    if cwd is None and isinstance(roots, list) and roots:
        cwd = roots[0]
    tool_name = _pick(payload, "tool_name", "toolName", "tool")
    tool_input = _json_arg(_pick(payload, "tool_input", "toolInput", "toolArgs", "tool_args", "args", "parameters"))
    if tool_input is None and isinstance(payload.get("command"), str) and kind in (TOOL, PRE_TOOL):
        tool_input = {"command": payload["command"]}
        tool_name = tool_name or "Shell"
    if tool_input is None and payload.get("file_path") and kind == TOOL:
        tool_input = {"file_path": payload["file_path"], "edits": payload.get("edits")}
        tool_name = tool_name or "Edit"
    response = _pick(payload, "tool_response", "toolResponse", "toolResult", "tool_result", "result_json",
                     "output", "result")
    error = _pick(payload, "error", "errorMessage")
    prompt = _pick(payload, "prompt", "userPrompt", "user_prompt", "initialPrompt", "submitted_prompt")
    if prompt is None and kind == PROMPT:
        prompt = _pick(payload, "message", "content")
    assistant = _pick(payload, "last_assistant_message", "lastAssistantMessage", "prompt_response",
                      "last-assistant-message", "response")
    if assistant is None and kind == STOP and isinstance(payload.get("text"), str):
        assistant = payload["text"]
    response_text, shell_error = shell_result(canonical, _text(response))
    error = error if error is not None else shell_error
    prompt_text = strip_echoes(_text(prompt) or "") or None
    assistant_text = strip_echoes(_text(assistant) or "") or None
    return HookEvent(
        agent=canonical,
        kind=kind,
        event_name=name or "unknown",
        observed_at=_str(_timestamp(_pick(payload, "timestamp", "time", "ts")), MAX_NAME_CHARS) or _timestamp(None),
        session_id=_secret_free(_str(_pick(payload, "session_id", "sessionId", "sessionID", "conversation_id",
                                           "conversationId", "thread-id", "thread_id", "taskId"), MAX_ID_CHARS)),
        cwd=_str(cwd, MAX_PATH_CHARS),
        transcript_path=_str(_pick(payload, "transcript_path", "transcriptPath"), MAX_PATH_CHARS),
        turn_id=_secret_free(_str(_pick(payload, "turn_id", "turnId", "turn-id", "generation_id", "prompt_id"),
                                  MAX_ID_CHARS)),
        tool_name=_secret_free(_str(tool_name, MAX_NAME_CHARS)),
        tool_input=redact_value(tool_input),
        tool_response=_redacted(response_text),
        error=_redacted(_text(error)),
        prompt=_redacted(prompt_text),
        assistant_text=_redacted(assistant_text),
        source=_secret_free(_str(_pick(payload, "source"), MAX_NAME_CHARS)),
        reason=_secret_free(_str(_pick(payload, "reason", "stopReason", "stop_reason", "status"), MAX_ID_CHARS)),
        trigger=_secret_free(_str(_pick(payload, "trigger"), MAX_NAME_CHARS)),
        summary=_redacted(strip_echoes(_text(_pick(payload, "compact_summary", "compactSummary")) or "")),
        model=_str(_pick(payload, "model"), MAX_NAME_CHARS) if isinstance(payload.get("model"), str) else None,
        raw=_redact_raw(payload),
    )


def shell_result(agent: str, text: str | None) -> tuple[str | None, str | None]:
    """(the command's output, an error or None) from a shell tool result as the tool formats it.

    Qwen always reports `Error: (none)` and echoes the command first; Copilot and Droid append an
    exit-code line. Keeping their framing would label every Qwen call an error and spend the short
    outcome of a memory on the echoed command instead of what the command printed.
    """
    if not text:
        return text, None
    if agent == "qwen":
        m = _QWEN_SHELL.match(text)
        if m:
            out = "" if m["out"] == "(empty)" else m["out"]
            err = None if m["err"] in ("(none)", "") else m["err"]
            code = m["code"]
            if err is None and code not in ("0", "(none)"):
                err = f"exit code {code}"
            return out, err
    m = _EXIT_TRAILER.search(text)
    if m and agent in ("copilot", "droid"):
        code = m["a"] or m["b"]
        return text[: m.start()], (None if code == "0" else f"exit code {code}")
    return text, None


def _str(value: Any, cap: int = MAX_ID_CHARS) -> str | None:
    if value is None:
        return None
    text = str(value).strip()[:cap]
    return text or None


def _secret_free(value: str | None) -> str | None:
    """Identifiers become session keys, labels and file names: a secret in one must not."""
    return redact_text(value) if value else value


def _redact_raw(payload: dict[str, Any]) -> dict[str, Any]:
    cleaned = redact_value(payload)
    for key in ("prompt", "prompt_response", "last_assistant_message"):
        if isinstance(cleaned.get(key), str):
            cleaned[key] = strip_echoes(cleaned[key])
    return cleaned if isinstance(cleaned, dict) else {}
