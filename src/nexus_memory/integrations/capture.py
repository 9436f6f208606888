"""What one hook event stores, by channel (the memory loop, docs/architecture.md).

- What the user typed is theirs: a prompt is `explicit`. A rule ("always use pnpm") is a
  preference; a question is kept (label `question`) but holds no fact, so it is never recalled,
  digested or set against a statement.
- The assistant's final message of a turn is a finding (`derived`, label `finding`): Claude Code's
  and Codex's `last_assistant_message` at Stop, Gemini's `prompt_response` at AfterAgent, and the
  equivalent of every other tool.
- A tool call is an episode (`raw`, label `raw-activity`): its command or target with its output,
  verbatim (redacted, long output kept head and tail). Episodes are searchable and recallable,
  ranked below explicit and derived memories; the lines of their output that carry facts are
  extracted by `facts_of` (derived, lineage to the episode).
- Compaction summaries are derived context.

Upstream's heuristic score (reference 7.3) decided whether an event became a memory at all; here
every event with content is kept, and the channel decides its level. That is what lets a fact seen
only in a tool's output come back in the next session.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from nexus_memory.domain import extract
from nexus_memory.integrations.events import (
    POST_COMPACT,
    PROMPT,
    STOP,
    SUBAGENT_STOP,
    TOOL,
    TOOL_FAILURE,
    HookEvent,
)

EPISODE_CONFIDENCE = 0.35
FINDING_CONFIDENCE = 0.75
#: An episode keeps this much output: the head (what ran) and the tail (how it ended).
OUTPUT_HEAD = 6000
OUTPUT_TAIL = 2000
FINDING_MAX_CHARS = 8000
#: Prompts shorter than this many words ("yes", "go on") carry nothing worth recalling.
PROMPT_MIN_WORDS = 3

_SHELL_TOOLS = {"bash", "shell", "run_shell_command", "execute", "exec_command", "terminal", "run_in_terminal",
                "local_shell", "powershell", "local_shell_call", "container.exec", "runterminalcommand"}
READ_TOOLS = frozenset({"read", "read_file", "read_many_files", "view", "readfile", "cat"})
_SEARCH_TOOLS = {"grep", "glob", "ls", "list_directory", "search_file_content", "codebase_search", "find",
                 "search", "rg"}
_EDIT_TOOLS = EDIT_TOOLS = extract.EDIT_TOOLS
#: Edit tools that replace a whole file with the content they carry.
WHOLE_FILE_WRITES = frozenset({"write", "write_file", "create_file"})
_FETCH_TOOLS = {"webfetch", "web_fetch", "websearch", "google_web_search", "fetch"}
# Gemini CLI (`<untrusted_context>Output: ...\nExit Code: 1\nProcess Group PGID: 42</untrusted_context>`) and
# Qwen Code (`Command: ...\nDirectory: ...\nOutput: ...\nError: (none)\nExit Code: 0 ...`) hand the model a
# shell result as labelled lines: keep the output, not the echo, and read the exit code.
_WRAPPER = re.compile(r"^\s*<untrusted_context>\s*\n?(.*?)\n?\s*</untrusted_context>\s*$", re.S)
_TRAILING = re.compile(r"\n(Error|Exit Code|Signal|Background PIDs|Process Group PGID): ([^\n]*)$")
_LEADING = re.compile(r"^(Command|Directory): [^\n]*\n")
# Codex reports `Exit code: N\nWall time: ...\nOutput:\n...`.
_CODEX_SHELL = re.compile(r"^Exit code: (?P<code>-?\d+)\n(?:Wall time: .*?\n)?Output:\n?(?P<out>.*)$", re.S)
_NONE = ("", "(none)", "(empty)")


def labelled_shell(text: str) -> tuple[str, str | None, str | None, int | None] | None:
    """(output, command, error, exit code) of a labelled shell result, or None for plain output."""
    m = _WRAPPER.match(text)
    body = m.group(1) if m else text
    command = None
    while (lead := _LEADING.match(body)) is not None:
        if lead.group(1) == "Command":
            command = lead.group(0).split(": ", 1)[1].strip()
        body = body[lead.end():]
    if not body.startswith(("Output: ", "Output:\n", "Stdout: ")):
        return None
    sections: dict[str, str] = {}
    while (tail := _TRAILING.search(body)) is not None:
        sections[tail.group(1)] = tail.group(2).strip()
        body = body[: tail.start()]
    output = body.split(": ", 1)[1] if ": " in body.split("\n", 1)[0] else body.split("\n", 1)[-1]
    code_text = sections.get("Exit Code", "")
    code = int(code_text) if code_text.lstrip("-").isdigit() else None
    error = sections.get("Error")
    return ("" if output.strip() in _NONE else output.strip(), command,
            None if (error or "").strip() in _NONE else error, code)


@dataclass(frozen=True, slots=True)
class Record:
    """One memory an event stores."""

    text: str
    kind: str  # prompt | rule | question | finding | episode | summary
    level: str  # explicit | derived | raw
    category: str
    labels: tuple[str, ...]
    confidence: float
    facets: dict[str, str] = field(default_factory=dict)


class ToolRun(NamedTuple):  # a tuple: built for a fraction of a frozen dataclass's cost
    """A tool call, read the same way whatever tool reported it."""

    tool: str
    command: str | None
    target: str
    output: str
    failed: bool
    exit_code: int | None

    @property
    def shell(self) -> bool:
        return self.command is not None


def is_shell(tool: str | None) -> bool:
    return (tool or "").lower() in _SHELL_TOOLS


def tool_run(event: HookEvent) -> ToolRun:
    tool = event.tool_name or "tool"
    output = (event.tool_response or "").strip()
    error = (event.error or "").strip()
    code: int | None = None
    command = event.command() if is_shell(tool) or event.command() else None
    labelled = labelled_shell(output)
    if labelled is not None:
        output, echoed, shell_error, code = labelled
        command = command or echoed
        error = error or (shell_error or "")
    elif (m := _CODEX_SHELL.match(output)) is not None:
        output, code = m.group("out").strip(), int(m.group("code"))
    failed = event.kind == TOOL_FAILURE or bool(error) or (code is not None and code != 0)
    if error and error not in output:
        output = f"{output}\n{error}".strip()
    return ToolRun(tool, command, _target(event), output, failed, code)


@functools.cache
def _edit_patterns() -> tuple[re.Pattern[str], re.Pattern[str]]:
    """(a file an `apply_patch` names; a shell command that only prints one file: `cat F`,
    `sed -n '1,200p' F`, `head -50 F`), compiled on first use: most hook events need neither."""
    return (re.compile(r"^\*\*\* (?:Update|Add|Delete) File: (.+?)\s*$", re.M),
            re.compile(r"^\s*(?:cat|bat|nl|less|more|head|tail|sed\s+-n\s+(?:'[^']*'|\"[^\"]*\"|\S+))"
                       r"(?:\s+-{1,2}[\w=-]+(?:\s+\d+)?)*\s+(?P<file>[^\s|;&<>'\"$`*?]+)\s*$"))


def file_read_by(command: str) -> str | None:
    """The file a shell command only reads (`sed -n '1,200p' app/build.gradle`), or None."""
    m = _edit_patterns()[1].match(command)
    return m.group("file") if m else None


def files_edited(target: str, command: str) -> list[str]:
    """The files an edit tool changed: its path argument, or the files an `apply_patch` names."""
    files = [target] if target else []
    files += [f for f in _edit_patterns()[0].findall(command) if f not in files]
    return files


class PatchedFile(NamedTuple):  # a tuple: built for a fraction of a frozen dataclass's cost
    """One file of a Codex `apply_patch`: `update` with its hunks as (old, new) text, or `add`/`delete`
    (the file written whole or removed)."""

    path: str
    action: str
    hunks: tuple[tuple[str, str], ...] = ()


def patched_files(patch: str) -> list[PatchedFile]:
    """The files of an `apply_patch` text (`*** Begin Patch` ... `*** End Patch`, the grammar of Codex's
    tool). A hunk's old text is its context and removed lines, its new text the context and added
    lines, each joined by newlines: replacing one by the other in what a read showed is the edit.
    A moved file (`*** Move to:`) has no hunks here: the old path's read no longer describes it."""
    files: list[PatchedFile] = []
    path, action = "", ""
    hunks: list[tuple[str, str]] = []
    old: list[str] = []
    new: list[str] = []

    def close_hunk() -> None:
        if old or new:
            hunks.append(("\n".join(old), "\n".join(new)))
        old.clear()
        new.clear()

    def close_file() -> None:
        close_hunk()
        if path:
            files.append(PatchedFile(path, action, tuple(hunks) if action == "update" else ()))
        hunks.clear()

    for line in patch.splitlines():
        header = re.match(r"^\*\*\* (Update|Add|Delete) File: (.+?)\s*$", line)
        if header is not None:
            close_file()
            action, path = header.group(1).lower(), header.group(2)
        elif line.startswith("*** Move to:"):
            action = "moved"
        elif line.startswith("***"):
            close_hunk()  # *** End of File, *** End Patch
        elif line.startswith("@@"):
            close_hunk()
        elif path and action == "update" and line[:1] in (" ", "-", "+", ""):
            body = line[1:]
            if line[:1] != "+":
                old.append(body)
            if line[:1] != "-":
                new.append(body)
    close_file()
    return files


def patch_text(tool_input: Any) -> str | None:
    """The patch an `apply_patch` call carries (Codex puts it in `command`; other shapes in `input` or
    `patch`), or None."""
    if isinstance(tool_input, str):
        text: Any = tool_input
    elif isinstance(tool_input, dict):
        text = next((v for k in ("command", "input", "patch", "cmd") if isinstance(v := tool_input.get(k), str)), None)
        if isinstance(tool_input.get("command"), list):  # ["apply_patch", "<patch>"]
            text = next((x for x in tool_input["command"] if isinstance(x, str) and "*** Begin Patch" in x), text)
    else:
        return None
    return text if isinstance(text, str) and "*** Begin Patch" in text else None


def edit_pairs(tool_input: Any) -> list[tuple[str, str]]:
    """The (old, new) strings of a string-replacing edit (Claude Code's Edit and MultiEdit, Gemini and
    Qwen's replace, OpenCode's edit, Copilot's str_replace); [] for any other edit (a patch, a write)."""
    if not isinstance(tool_input, dict):
        return []
    listed = tool_input.get("edits")
    edits = listed if isinstance(listed, list) else [tool_input]
    pairs: list[tuple[str, str]] = []
    for e in edits:
        if not isinstance(e, dict):
            return []
        old = e.get("old_string", e.get("oldString", e.get("old_str")))
        new = e.get("new_string", e.get("newString", e.get("new_str")))
        if not (isinstance(old, str) and isinstance(new, str) and old.strip()):
            return []
        pairs.append((old, new))
    return pairs


def _target(event: HookEvent) -> str:
    ti = event.tool_input
    if isinstance(ti, dict):
        for key in ("file_path", "filePath", "path", "absolute_path", "notebook_path", "url", "pattern", "query",
                    "glob"):
            if ti.get(key):
                return " ".join(str(ti[key]).split())[:300]
    return ""


def _keep(text: str, head: int = OUTPUT_HEAD, tail: int = OUTPUT_TAIL) -> str:
    if len(text) <= head + tail + 40:
        return text
    cut = len(text) - head - tail
    return f"{text[:head]}\n… [{cut} characters left out] …\n{text[-tail:]}"


def episode_text(run: ToolRun, event: HookEvent) -> str:
    """The episode as a person would write it down: what ran, then what it printed."""
    name = run.tool.lower()
    body = _keep(run.output) if run.output else "(no output)"
    status = " (failed" + (f", exit {run.exit_code}" if run.exit_code not in (None, 0) else "") + ")" \
        if run.failed else ""
    if run.shell:
        return f"$ {run.command}{status}\n{body}"
    if name in _EDIT_TOOLS:
        ti = event.tool_input if isinstance(event.tool_input, dict) else {}
        old, new = ti.get("old_string") or ti.get("oldString"), ti.get("new_string") or ti.get("newString")
        if isinstance(old, str) and isinstance(new, str):
            return f"Edited {run.target or 'a file'}{status}: replaced\n{_keep(old, 1500, 500)}\nwith\n" \
                   f"{_keep(new, 1500, 500)}"
        content = ti.get("content")
        if isinstance(content, str):
            return f"Wrote {run.target or 'a file'}{status}:\n{_keep(content, 3000, 1000)}"
        return f"Edited {run.target or 'a file'}{status}: {_keep(event.tool_input_text(), 3000, 1000)}"
    if name in READ_TOOLS:
        return f"Read {run.target or 'a file'}{status}:\n{body}"
    if name in _SEARCH_TOOLS:
        return f"Searched {run.target or event.tool_input_text()[:200]}{status}:\n{body}"
    if name in _FETCH_TOOLS:
        return f"Fetched {run.target or event.tool_input_text()[:200]}{status}:\n{body}"
    target = run.target or event.tool_input_text()[:300]
    return f"{run.tool} {target}{status}:\n{body}".replace(" :\n", ":\n")


def records(event: HookEvent) -> list[Record]:
    """The memories an event stores (none for lifecycle-only events)."""
    if event.kind == PROMPT and event.prompt:
        return [prompt_record(event.prompt)]
    if event.kind in (STOP, SUBAGENT_STOP) and event.assistant_text:
        return [finding_record(event.assistant_text, subagent=event.kind == SUBAGENT_STOP)]
    if event.kind == POST_COMPACT and event.summary:
        return [Record(f"Session summary (after compaction): {event.summary}", "summary", "derived", "context",
                       ("compact-summary", "session-summary"), 0.6)]
    if event.kind in (TOOL, TOOL_FAILURE) and (event.tool_name or event.tool_response or event.error):
        run = tool_run(event)
        labels = ["raw-activity", "tool", f"tool:{run.tool}"[:100]]
        if run.failed:
            labels.append("error")
        facets = {"tool": run.tool}
        if run.command:
            facets["command"] = run.command[:500]
        if run.target:
            facets["target"] = run.target
        return [Record(episode_text(run, event), "episode", "raw", "session", tuple(labels), EPISODE_CONFIDENCE,
                       facets)]
    return []


def prompt_record(prompt: str) -> Record:
    text = prompt.strip()
    if len(text.split()) < PROMPT_MIN_WORDS:
        return Record(text, "episode", "raw", "session", ("raw-activity", "prompt"), EPISODE_CONFIDENCE)
    if extract.is_question(text):
        return Record(text, "question", "explicit", "context", ("prompt", "question"), 0.6)
    if extract.is_rule(text):
        return Record(text, "rule", "explicit", "preferences", ("prompt", "preference"), 0.9)
    return Record(text, "prompt", "explicit", "context", ("prompt",), 0.8)


def finding_record(text: str, *, subagent: bool = False) -> Record:
    body = text.strip()
    if len(body) > FINDING_MAX_CHARS:
        body = body[:FINDING_MAX_CHARS] + " …"
    labels = ["finding", "assistant"]
    if subagent:
        labels.append("subagent")
    if extract.is_decision(body):
        labels.append("decision")
    if len(body.split()) < PROMPT_MIN_WORDS:
        return Record(body, "episode", "raw", "session", ("raw-activity", "assistant"), EPISODE_CONFIDENCE)
    return Record(body, "finding", "derived", "context", tuple(labels), FINDING_CONFIDENCE)


def facts_of(run: ToolRun) -> str | None:
    """The fact lines of a tool's output as one extracted memory, or None when it holds none."""
    return extract.tool_facts(run.tool, run.command, run.target, run.output, run.failed)
