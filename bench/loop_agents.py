"""Hook payloads and transcript files as three agent tools write them (bench/loop.py).

Each `AgentFormat` turns the steps of a scripted session (a prompt, a tool call with its output, the
assistant's final message) into the hook events that tool fires, with the stdin payload of its
documented contract, and appends the same steps to a transcript file in that tool's own format,
so the transcript reader sees what a real session would leave behind.

Sources (see /work/shared/reference/agent-hooks.md and reference/schemas/):
- Claude Code: snake_case payloads; Bash `tool_response` is `{stdout, stderr, interrupted, isImage}`;
  Stop carries `last_assistant_message`; transcript JSONL of `user`/`assistant` records whose
  `message.content` holds text, `tool_use` and `tool_result` blocks.
- Gemini CLI: BeforeAgent/AfterAgent (`prompt`, `prompt_response`), AfterTool with
  `tool_response: {llmContent, returnDisplay}`; transcript JSONL with a metadata first line and
  `{id, timestamp, type: user|gemini, content, toolCalls?}` records.
- Codex: UserPromptSubmit / PostToolUse (`tool_name: Bash`, `tool_input.command`, string
  `tool_response`) / Stop (`last_assistant_message`), each with `turn_id` and `model`; rollout JSONL
  of `session_meta`, `response_item` and `event_msg` records.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

Event = tuple[str, dict[str, Any]]  # (event name as the tool names it, stdin payload)


@dataclass
class SessionState:
    session_id: str
    cwd: str
    transcript: Path
    clock: datetime
    turn: int = 0
    calls: int = 0
    prompt: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def tick(self, seconds: float = 7.0) -> str:
        self.clock += timedelta(seconds=seconds)
        return self.clock.isoformat().replace("+00:00", "Z")

    def append(self, record: dict[str, Any]) -> None:
        self.transcript.parent.mkdir(parents=True, exist_ok=True)
        with self.transcript.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(record, ensure_ascii=False) + "\n")


def tool_call(step: dict[str, Any]) -> tuple[str, dict[str, Any], str, bool]:
    """(generic tool kind, its input, its output text, failed?) of a scenario step."""
    out = str(step.get("out") or "")
    failed = int(step.get("exit") or 0) != 0
    if "bash" in step:
        return "bash", {"command": step["bash"]}, out, failed
    if "read" in step:
        return "read", {"file_path": step["read"]}, out, failed
    if "grep" in step:
        return "grep", {"pattern": step["grep"], "path": "."}, out, failed
    if "edit" in step:
        return "edit", {"file_path": step["edit"], "old_string": step.get("old", ""),
                        "new_string": step.get("new", "")}, out or "The file has been updated.", failed
    if "write" in step:
        return "write", {"file_path": step["write"], "content": step.get("content", "")}, \
            out or "File created successfully.", failed
    raise ValueError(f"not a tool step: {step}")


def codex_patch(kind: str, tin: dict[str, Any]) -> str:
    """The `apply_patch` text Codex sends for an edit (one Update hunk: the old lines removed, the new
    ones added) or a write (an Add File of the whole content)."""
    if kind == "write":
        body = "\n".join("+" + line for line in str(tin.get("content", "")).splitlines())
        return f"*** Begin Patch\n*** Add File: {tin['file_path']}\n{body}\n*** End Patch"
    old = "\n".join("-" + line for line in str(tin.get("old_string", "")).splitlines())
    new = "\n".join("+" + line for line in str(tin.get("new_string", "")).splitlines())
    return f"*** Begin Patch\n*** Update File: {tin['file_path']}\n@@\n{old}\n{new}\n*** End Patch"


class AgentFormat:
    name = "?"

    def start(self, s: SessionState) -> list[Event]:
        raise NotImplementedError

    def prompt(self, s: SessionState, text: str) -> list[Event]:
        raise NotImplementedError

    def tool(self, s: SessionState, step: dict[str, Any]) -> list[Event]:
        raise NotImplementedError

    def note(self, s: SessionState, text: str) -> None:
        """Assistant text between tool calls: only the transcript has it."""
        raise NotImplementedError

    def stop(self, s: SessionState, text: str) -> list[Event]:
        raise NotImplementedError

    def end(self, s: SessionState) -> list[Event]:
        raise NotImplementedError

    def transcript_path(self, home: Path, session_id: str, cwd: str) -> Path:
        raise NotImplementedError

    @staticmethod
    def extract_context(stdout: str) -> str:
        """The context a hook's stdout hands to the model (Claude-style `hookSpecificOutput`)."""
        try:
            data = json.loads(stdout or "{}")
        except ValueError:
            return ""
        if not isinstance(data, dict):
            return ""
        hso = data.get("hookSpecificOutput")
        if isinstance(hso, dict) and isinstance(hso.get("additionalContext"), str):
            return str(hso["additionalContext"])
        for key in ("additionalContext", "additional_context"):
            if isinstance(data.get(key), str):
                return str(data[key])
        return ""


# ------------------------------------------------------------------------------------- Claude Code
_CLAUDE_TOOLS = {"bash": "Bash", "read": "Read", "grep": "Grep", "edit": "Edit", "write": "Write"}


class ClaudeCode(AgentFormat):
    name = "claude-code"

    def _base(self, s: SessionState, event: str) -> dict[str, Any]:
        return {"session_id": s.session_id, "transcript_path": str(s.transcript), "cwd": s.cwd,
                "permission_mode": "default", "hook_event_name": event}

    def _record(self, s: SessionState, kind: str, content: Any, **extra: Any) -> None:
        s.append({"parentUuid": s.extra.get("last"), "isSidechain": False, "userType": "external", "cwd": s.cwd,
                  "sessionId": s.session_id, "version": "2.1.197", "type": kind,
                  "message": {"role": kind, "content": content} if kind == "user" else
                  {"id": f"msg_{uuid.uuid4().hex[:20]}", "type": "message", "role": "assistant",
                   "model": "claude-sonnet-4-5", "content": content},
                  "uuid": (u := str(uuid.uuid4())), "timestamp": s.tick(1), **extra})
        s.extra["last"] = u

    def transcript_path(self, home: Path, session_id: str, cwd: str) -> Path:
        slug = "".join(c if c.isalnum() else "-" for c in cwd)
        return home / ".claude" / "projects" / slug / f"{session_id}.jsonl"

    def start(self, s: SessionState) -> list[Event]:
        return [("SessionStart", {**self._base(s, "SessionStart"), "source": "startup"})]

    def prompt(self, s: SessionState, text: str) -> list[Event]:
        s.turn += 1
        self._record(s, "user", text)
        return [("UserPromptSubmit", {**self._base(s, "UserPromptSubmit"), "prompt": text,
                                      "prompt_id": str(uuid.uuid4())})]

    def tool(self, s: SessionState, step: dict[str, Any]) -> list[Event]:
        kind, tin, out, failed = tool_call(step)
        name = _CLAUDE_TOOLS[kind]
        s.calls += 1
        use_id = f"toolu_{s.calls:04d}{uuid.uuid4().hex[:16]}"
        self._record(s, "assistant", [{"type": "tool_use", "id": use_id, "name": name, "input": tin}])
        pre = ("PreToolUse", {**self._base(s, "PreToolUse"), "tool_name": name, "tool_input": tin,
                              "tool_use_id": use_id})
        if kind == "bash":
            response: Any = {"stdout": out, "stderr": "", "interrupted": False, "isImage": False}
        elif kind == "read":
            response = {"type": "text", "file": {"filePath": tin["file_path"], "content": out,
                                                 "numLines": out.count("\n") + 1}}
        elif kind == "grep":
            response = {"mode": "content", "numFiles": out.count("\n") + 1, "content": out}
        else:
            response = {"filePath": tin["file_path"], "success": True}
        self._record(s, "user", [{"tool_use_id": use_id, "type": "tool_result", "content": out,
                                  "is_error": failed}])
        if failed:
            post = ("PostToolUseFailure", {**self._base(s, "PostToolUseFailure"), "tool_name": name,
                                           "tool_input": tin, "tool_use_id": use_id,
                                           "error": f"Exit code {step.get('exit', 1)}\n{out}",
                                           "is_interrupt": False, "duration_ms": 840})
        else:
            post = ("PostToolUse", {**self._base(s, "PostToolUse"), "tool_name": name, "tool_input": tin,
                                    "tool_response": response, "tool_use_id": use_id, "duration_ms": 120})
        return [pre, post]

    def note(self, s: SessionState, text: str) -> None:
        self._record(s, "assistant", [{"type": "text", "text": text}])

    def stop(self, s: SessionState, text: str) -> list[Event]:
        self._record(s, "assistant", [{"type": "text", "text": text}])
        return [("Stop", {**self._base(s, "Stop"), "stop_hook_active": False, "last_assistant_message": text})]

    def end(self, s: SessionState) -> list[Event]:
        return [("SessionEnd", {**self._base(s, "SessionEnd"), "reason": "other"})]


# ------------------------------------------------------------------------------------- Gemini CLI
_GEMINI_TOOLS = {"bash": "run_shell_command", "read": "read_file", "grep": "search_file_content",
                 "edit": "replace", "write": "write_file"}


class Gemini(AgentFormat):
    name = "gemini"

    def _base(self, s: SessionState, event: str) -> dict[str, Any]:
        return {"session_id": s.session_id, "transcript_path": str(s.transcript), "cwd": s.cwd,
                "hook_event_name": event, "timestamp": s.tick(1)}

    def transcript_path(self, home: Path, session_id: str, cwd: str) -> Path:
        project_hash = uuid.uuid5(uuid.NAMESPACE_URL, cwd).hex
        return home / ".gemini" / "tmp" / project_hash / "chats" / f"session-2026-12-07T10-00-{session_id[:8]}.jsonl"

    def start(self, s: SessionState) -> list[Event]:
        s.append({"sessionId": s.session_id, "projectHash": s.transcript.parent.parent.name,
                  "startTime": s.tick(0), "lastUpdated": s.tick(0), "kind": "main"})
        return [("SessionStart", {**self._base(s, "SessionStart"), "source": "startup"})]

    def prompt(self, s: SessionState, text: str) -> list[Event]:
        s.turn += 1
        s.prompt = text
        s.extra["calls"] = []
        s.append({"id": str(uuid.uuid4()), "timestamp": s.tick(1), "type": "user", "content": [{"text": text}]})
        return [("BeforeAgent", {**self._base(s, "BeforeAgent"), "prompt": text})]

    def tool(self, s: SessionState, step: dict[str, Any]) -> list[Event]:
        kind, tin, out, failed = tool_call(step)
        name = _GEMINI_TOOLS[kind]
        if kind == "bash":  # gemini-cli 0.61 shell.ts: labelled sections, wrapped as untrusted context
            code = int(step.get("exit") or 0)
            llm = f"Output: {out or '(empty)'}" + (f"\nExit Code: {code}" if code else "") + "\nProcess Group PGID: 4242"
            llm = f"<untrusted_context>\n{llm}\n</untrusted_context>"
        else:
            llm = out
        pre = ("BeforeTool", {**self._base(s, "BeforeTool"), "tool_name": name, "tool_input": tin})
        response: dict[str, Any] = {"llmContent": llm, "returnDisplay": out}
        if failed:
            response["error"] = {"message": f"Command exited with code {step.get('exit', 1)}"}
        post = ("AfterTool", {**self._base(s, "AfterTool"), "tool_name": name, "tool_input": tin,
                              "tool_response": response})
        s.extra.setdefault("calls", []).append({"id": f"{name}-{uuid.uuid4().hex[:8]}", "name": name, "args": tin,
                                               "result": [{"functionResponse": {"name": name,
                                                                                "response": {"output": llm}}}],
                                               "status": "error" if failed else "success"})
        return [pre, post]

    def note(self, s: SessionState, text: str) -> None:
        s.append({"id": str(uuid.uuid4()), "timestamp": s.tick(1), "type": "gemini", "content": text,
                  "toolCalls": s.extra.pop("calls", []), "model": "gemini-2.5-pro"})

    def stop(self, s: SessionState, text: str) -> list[Event]:
        self.note(s, text)
        return [("AfterAgent", {**self._base(s, "AfterAgent"), "prompt": s.prompt, "prompt_response": text,
                                "stop_hook_active": False})]

    def end(self, s: SessionState) -> list[Event]:
        return [("SessionEnd", {**self._base(s, "SessionEnd"), "reason": "exit"})]


# ------------------------------------------------------------------------------------- Codex
class Codex(AgentFormat):
    name = "codex"

    def _base(self, s: SessionState, event: str, turn: bool = True) -> dict[str, Any]:
        base = {"session_id": s.session_id, "transcript_path": str(s.transcript), "cwd": s.cwd,
                "hook_event_name": event, "model": "gpt-5-codex", "permission_mode": "default"}
        if turn:
            base["turn_id"] = f"turn-{s.turn}"
        return base

    def transcript_path(self, home: Path, session_id: str, cwd: str) -> Path:
        return home / ".codex" / "sessions" / "2026" / "12" / "07" / f"rollout-2026-12-07T10-00-00-{session_id}.jsonl"

    def _item(self, s: SessionState, kind: str, payload: dict[str, Any]) -> None:
        s.append({"timestamp": s.tick(1), "type": kind, "payload": payload})

    def start(self, s: SessionState) -> list[Event]:
        self._item(s, "session_meta", {"id": s.session_id, "timestamp": s.tick(0), "cwd": s.cwd,
                                       "originator": "codex_exec", "cli_version": "0.171.0"})
        return [("SessionStart", {**self._base(s, "SessionStart", turn=False), "source": "startup"})]

    def prompt(self, s: SessionState, text: str) -> list[Event]:
        s.turn += 1
        self._item(s, "response_item", {"type": "message", "role": "user",
                                        "content": [{"type": "input_text", "text": text}]})
        self._item(s, "event_msg", {"type": "user_message", "message": text, "images": []})
        return [("UserPromptSubmit", {**self._base(s, "UserPromptSubmit"), "prompt": text})]

    def tool(self, s: SessionState, step: dict[str, Any]) -> list[Event]:
        kind, tin, out, _failed = tool_call(step)
        s.calls += 1
        call_id = f"call_{s.calls:03d}{uuid.uuid4().hex[:12]}"
        if kind == "bash":
            name, command = "Bash", tin["command"]
        elif kind in ("read", "grep"):
            name = "Bash"
            command = f"sed -n '1,200p' {tin['file_path']}" if kind == "read" else f"rg -n '{tin['pattern']}'"
        else:
            name, command = "apply_patch", codex_patch(kind, tin)
        code = int(step.get("exit") or 0)
        response = f"Exit code: {code}\nWall time: 0.4 seconds\nOutput:\n{out}"
        self._item(s, "response_item", {"type": "function_call", "name": "exec_command" if name == "Bash" else name,
                                        "arguments": json.dumps({"cmd": command}), "call_id": call_id})
        self._item(s, "response_item", {"type": "function_call_output", "call_id": call_id, "output": response})
        tool_input = {"command": command}
        pre = ("PreToolUse", {**self._base(s, "PreToolUse"), "tool_name": name, "tool_input": tool_input,
                              "tool_use_id": call_id})
        post = ("PostToolUse", {**self._base(s, "PostToolUse"), "tool_name": name, "tool_input": tool_input,
                                "tool_response": response, "tool_use_id": call_id})
        return [pre, post]

    def note(self, s: SessionState, text: str) -> None:
        self._item(s, "event_msg", {"type": "agent_message", "message": text})
        self._item(s, "response_item", {"type": "message", "role": "assistant",
                                        "content": [{"type": "output_text", "text": text}]})

    def stop(self, s: SessionState, text: str) -> list[Event]:
        self.note(s, text)
        return [("Stop", {**self._base(s, "Stop"), "stop_hook_active": False, "last_assistant_message": text})]

    def end(self, s: SessionState) -> list[Event]:
        return [("SessionEnd", {**self._base(s, "SessionEnd", turn=False), "reason": "other"})]


FORMATS: dict[str, type[AgentFormat]] = {"claude-code": ClaudeCode, "gemini": Gemini, "codex": Codex}


def new_session(fmt: AgentFormat, home: Path, cwd: str, session_id: str | None = None) -> SessionState:
    sid = session_id or str(uuid.uuid4())
    return SessionState(sid, cwd, fmt.transcript_path(home, sid, cwd), datetime(2026, 12, 7, 10, 0, tzinfo=UTC))
