"""Contract tests per tool: documented payloads -> HookEvent -> stored memories -> output in the tool's contract.

Payloads follow `agent-hooks.md` (field names, casing, nesting) for every event we install.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from nexus_memory.integrations.events import (
    POST_COMPACT,
    PRE_COMPACT,
    PROMPT,
    SESSION_END,
    SESSION_START,
    STOP,
    TOOL,
    TOOL_FAILURE,
    normalize,
)
from tests.integrations.helpers import contents, context_of, hook, memories, sources_of, validate_codex

CWD = "/tmp/nexus-contract-proj"


def seed_preference() -> None:
    hook("claude-code", "UserPromptSubmit", {"session_id": "seed", "cwd": CWD, "hook_event_name": "UserPromptSubmit",
                                             "prompt": "Always deploy the billing service to region eu-west-1"})


# ------------------------------------------------------------------------------------------ Claude Code
def test_claude_code_events() -> None:
    base = {"session_id": "c1", "transcript_path": "/nonexistent.jsonl", "cwd": CWD, "permission_mode": "default"}
    seed_preference()
    out = hook("claude-code", "SessionStart", {**base, "hook_event_name": "SessionStart", "source": "startup"})
    assert out["hookSpecificOutput"]["hookEventName"] == "SessionStart"
    assert "eu-west-1" in context_of(out)
    out = hook("claude-code", "PostToolUse", {
        **base, "hook_event_name": "PostToolUse", "tool_name": "Bash", "tool_use_id": "t1", "duration_ms": 812,
        "tool_input": {"command": "pytest -q tests/billing"},
        "tool_response": {"stdout": "12 passed, 2 failed in 3.1s", "stderr": "", "interrupted": False,
                          "isImage": False}})
    assert out == {}
    # The tool call is an episode, whole, with its command; its fact line is extracted, with lineage.
    stored = [m for m in memories() if "pytest -q tests/billing" in m.content]
    episode = next(m for m in stored if m.is_raw_activity)
    assert episode.content == "$ pytest -q tests/billing\n12 passed, 2 failed in 3.1s"
    assert episode.level().value == "raw" and {"tool", "tool:Bash"} <= set(episode.labels)
    extracted = next(m for m in stored if "extracted" in m.labels)
    assert extracted.level().value == "derived" and extracted.category.value == "facts"
    assert "12 passed, 2 failed" in extracted.content and sources_of(extracted.id) == [episode.id]
    assert len(stored) == 2
    hook("claude-code", "PostToolUseFailure", {
        **base, "hook_event_name": "PostToolUseFailure", "tool_name": "Bash", "tool_use_id": "t2",
        "tool_input": {"command": "make deploy"}, "error": "error: permission denied", "is_interrupt": False})
    failed = [m for m in memories() if m.is_raw_activity and "make deploy" in m.content]
    assert len(failed) == 1 and "error" in failed[0].labels
    assert failed[0].content == "$ make deploy (failed)\nerror: permission denied"
    hook("claude-code", "Stop", {**base, "hook_event_name": "Stop", "stop_hook_active": False,
                                 "last_assistant_message": "I decided to keep the retry loop because the API "
                                                           "is flaky."})
    finding = next(m for m in memories() if m.content.startswith("I decided to keep the retry loop"))
    assert finding.content == "I decided to keep the retry loop because the API is flaky."
    assert finding.level().value == "derived" and {"finding", "decision"} <= set(finding.labels)
    hook("claude-code", "PreCompact", {**base, "hook_event_name": "PreCompact", "trigger": "auto",
                                       "custom_instructions": ""})
    hook("claude-code", "PostCompact", {**base, "hook_event_name": "PostCompact", "trigger": "auto",
                                        "compact_summary": "Worked on billing retries; tests mostly pass."})
    assert any("Worked on billing retries" in c and c.startswith("Session summary") for c in contents())
    assert any("session compact" in c for c in contents())
    out = hook("claude-code", "SessionStart", {**base, "hook_event_name": "SessionStart", "source": "compact"})
    assert "eu-west-1" in context_of(out), "after compaction the pack is injected again"
    hook("claude-code", "SessionEnd", {**base, "hook_event_name": "SessionEnd", "reason": "prompt_input_exit"})
    assert any("runtime session end for claude-code [session:c1]" in c for c in contents())


# ------------------------------------------------------------------------------------------ Codex
def test_codex_events_validate_against_codex_schemas() -> None:
    base = {"session_id": "x1", "transcript_path": None, "cwd": CWD, "model": "gpt-5-codex",
            "permission_mode": "default"}
    seed_preference()
    start = {**base, "hook_event_name": "SessionStart", "source": "startup"}
    validate_codex(start, "../hooks-fork-copy/session-start.command.input")
    out = hook("codex", "SessionStart", start)
    validate_codex(out, "session-start.command.output")
    assert "eu-west-1" in context_of(out)
    prompt = {**base, "hook_event_name": "UserPromptSubmit", "turn_id": "u1",
              "prompt": "which region does the billing service deploy to?"}
    validate_codex(prompt, "user-prompt-submit.command.input")
    out = hook("codex", "UserPromptSubmit", prompt)
    validate_codex(out, "user-prompt-submit.command.output")
    assert out == {}, "the session pack already carried that memory: nothing new to inject"
    tool = {**base, "hook_event_name": "PostToolUse", "turn_id": "u1", "tool_name": "Bash", "tool_use_id": "c1",
            "tool_input": {"command": "cargo build --release"}, "tool_response": "Finished release build in 41s"}
    validate_codex(tool, "post-tool-use.command.input")
    out = hook("codex", "PostToolUse", tool)
    validate_codex(out, "post-tool-use.command.output")
    assert any("cargo build --release" in c for c in contents(agents=("codex",)))
    stop = {**base, "hook_event_name": "Stop", "turn_id": "u1", "stop_hook_active": False,
            "last_assistant_message": "Built the release binary; next I will wire the deploy step."}
    validate_codex(stop, "stop.command.input")
    validate_codex(hook("codex", "Stop", stop), "stop.command.output")
    for name, schema in (("PreCompact", "pre-compact"), ("PostCompact", "post-compact")):
        payload = {k: v for k, v in base.items() if k != "permission_mode"}  # not sent on compaction events
        payload.update({"hook_event_name": name, "turn_id": "u1", "trigger": "auto"})
        validate_codex(payload, f"{schema}.command.input")
        validate_codex(hook("codex", name, payload), f"{schema}.command.output")


# ------------------------------------------------------------------------------------------ Gemini CLI
def test_gemini_events_and_hook_context_echo_is_stripped() -> None:
    base = {"session_id": "g1", "transcript_path": "/nonexistent.jsonl", "cwd": CWD,
            "timestamp": "2026-11-25T12:21:18.450Z"}
    seed_preference()
    out = hook("gemini", "SessionStart", {**base, "hook_event_name": "SessionStart", "source": "startup"})
    assert out["hookSpecificOutput"]["hookEventName"] == "SessionStart" and "eu-west-1" in context_of(out)
    echoed = "<hook_context>MEMORY PACK eu-west-1</hook_context>\n\nPlease refactor the invoice renderer module"
    hook("gemini", "BeforeAgent", {**base, "hook_event_name": "BeforeAgent", "prompt": echoed})
    stored = contents(agents=("gemini",))
    assert "Please refactor the invoice renderer module" in stored
    assert not any("hook_context" in c or "MEMORY PACK" in c for c in stored)
    hook("gemini", "AfterTool", {**base, "hook_event_name": "AfterTool", "tool_name": "run_shell_command",
                                 "tool_input": {"command": "npm test", "description": "run tests"},
                                 "tool_response": {"llmContent": "<untrusted_context>\nOutput: 40 passed\n"
                                                                 "</untrusted_context>", "returnDisplay": "ok"}})
    assert "$ npm test\n40 passed" in contents(agents=("gemini",)), "the output, not Gemini's wrapper"
    out = hook("gemini", "AfterAgent", {**base, "hook_event_name": "AfterAgent", "prompt": echoed,
                                        "prompt_response": "Done.", "stop_hook_active": False})
    assert out == {}
    assert hook("gemini", "PreCompress", {**base, "hook_event_name": "PreCompress", "trigger": "auto"}) == {}
    assert hook("gemini", "SessionEnd", {**base, "hook_event_name": "SessionEnd", "reason": "exit"}) == {}


# ------------------------------------------------------------------------------------------ others
def test_qwen_and_droid_use_the_claude_contract() -> None:
    seed_preference()
    out = hook("qwen", "SessionStart", {"session_id": "q1", "cwd": CWD, "hook_event_name": "SessionStart",
                                        "source": "startup", "permission_mode": "default", "model": "qwen3",
                                        "timestamp": "2026-11-25T10:00:00Z"})
    assert "eu-west-1" in context_of(out)
    hook("qwen", "PostToolUse", {"session_id": "q1", "cwd": CWD, "hook_event_name": "PostToolUse",
                                 "tool_name": "write_file", "tool_input": {"file_path": "a.py", "content": "x"},
                                 "tool_response": "ok", "tool_call_id": "k", "permission_mode": "yolo"})
    assert "Wrote a.py:\nx" in contents(agents=("qwen",))
    out = hook("droid", "SessionStart", {"session_id": "d1", "cwd": CWD, "hook_event_name": "SessionStart",
                                         "transcript_path": "", "permission_mode": "default", "source": "startup"})
    assert "eu-west-1" in context_of(out)


def test_cursor_payloads() -> None:
    base = {"conversation_id": "cur1", "generation_id": "g", "model": "x", "cursor_version": "2.0",
            "workspace_roots": [CWD], "user_email": "u@example.com"}
    out = hook("cursor", "beforeSubmitPrompt", {**base, "hook_event_name": "beforeSubmitPrompt",
                                                "prompt": "Never commit directly to the main branch", "attachments": []})
    assert out == {"continue": True}
    hook("cursor", "afterShellExecution", {**base, "hook_event_name": "afterShellExecution",
                                           "command": "go test ./...", "output": "ok  pkg 0.3s\nPASS", "duration": 900})
    hook("cursor", "afterFileEdit", {**base, "hook_event_name": "afterFileEdit", "file_path": f"{CWD}/main.go",
                                     "edits": [{"old_string": "a", "new_string": "b"}]})
    stored = memories(agents=("cursor",))
    texts = [m.content for m in stored]
    assert "Never commit directly to the main branch" in texts
    assert any(m.category.value == "preferences" for m in stored)
    assert "$ go test ./...\nok  pkg 0.3s\nPASS" in texts
    assert any("main.go" in t for t in texts)
    out = hook("cursor", "sessionStart", {**base, "hook_event_name": "sessionStart"})
    assert "main branch" in out.get("additional_context", "")
    assert hook("cursor", "stop", {**base, "hook_event_name": "stop", "status": "completed", "loop_count": 0}) == {}


def test_copilot_camel_case_dialect() -> None:
    base = {"sessionId": "cp1", "timestamp": 1764064800123, "cwd": CWD}
    assert hook("copilot", "sessionStart", {**base, "source": "new", "initialPrompt": ""}) == {}
    seed_preference()
    # Copilot reads a top-level additionalContext (not hookSpecificOutput) on sessionStart and prompts
    out = hook("copilot", "sessionStart", {**base, "sessionId": "cp0", "source": "new", "initialPrompt": ""})
    assert set(out) == {"additionalContext"} and "eu-west-1" in out["additionalContext"]
    hook("copilot", "postToolUse", {**base, "toolName": "bash", "toolArgs": json.dumps({"command": "pytest"}),
                                    "toolResult": {"resultType": "success", "textResultForLlm": "5 passed"}})
    hook("copilot", "userPromptSubmitted", {**base, "prompt": "I prefer tabs over spaces in Makefiles"})
    stored = memories(agents=("copilot",))
    assert any(m.content == "$ pytest\n5 passed" for m in stored)
    assert any(m.category.value == "preferences" for m in stored)
    # A Claude-configured hook fired by Copilot (it reads .claude/settings.json) is recognised.
    ev = normalize("claude-code", "PostToolUse", {"sessionId": "z", "toolName": "bash", "toolArgs": "{}"})
    assert ev.agent == "copilot"


def test_opencode_plugin_payloads() -> None:
    seed_preference()
    out = hook("opencode", "session.created", {"sessionID": "o1", "cwd": CWD, "source": "startup"})
    assert "eu-west-1" in out["additionalContext"]
    hook("opencode", "tool.execute.after", {"sessionID": "o1", "cwd": CWD, "tool_name": "bash",
                                            "tool_input": {"command": "bun test"}, "tool_response": "3 pass 0 fail"})
    assert "$ bun test\n3 pass 0 fail" in contents(agents=("opencode",))
    assert hook("opencode", "chat.message", {"sessionID": "o1", "cwd": CWD, "prompt": "hello there"}) == {}


@pytest.mark.parametrize(("agent", "name", "kind"), [
    ("claude-code", "SessionStart", SESSION_START), ("gemini", "BeforeAgent", PROMPT), ("gemini", "AfterTool", TOOL),
    ("gemini", "AfterAgent", STOP), ("gemini", "PreCompress", PRE_COMPACT), ("qwen", "PostCompact", POST_COMPACT),
    ("copilot", "agentStop", STOP), ("copilot", "userPromptSubmitted", PROMPT), ("cursor", "afterMCPExecution", TOOL),
    ("claude-code", "PostToolUseFailure", TOOL_FAILURE), ("codex", "SessionEnd", SESSION_END),
    ("copilot", "session-end", SESSION_END), ("opencode", "session.idle", STOP),
])
def test_event_names_normalise(agent: str, name: str, kind: str) -> None:
    assert normalize(agent, name, {}).kind == kind


def test_unknown_fields_and_missing_ones_are_tolerated(tmp_path: Path) -> None:
    ev = normalize("codex", None, {"hook_event_name": "PostToolUse", "brand_new_field": {"x": 1},
                                   "tool_name": "Bash", "tool_input": {"command": ["git", "status"]}})
    assert ev.kind == TOOL and ev.command() == "git status"
    assert hook("claude-code", "PostToolUse", "") == {}
    assert hook("claude-code", "PostToolUse", "this is not json at all") == {}
    odd: Any = [1, 2, 3]
    assert hook("claude-code", "Stop", json.dumps(odd)) == {}


def _payload(agent: str, event: str, cwd: str) -> dict[str, Any]:
    """A payload in the tool's documented dialect for any event we install."""
    kind = normalize(agent, event, {}).kind
    if agent == "copilot":
        base: dict[str, Any] = {"sessionId": "every", "timestamp": 1764064800000, "cwd": cwd}
        extra = {PROMPT: {"prompt": "keep the changelog in sync with releases"},
                 TOOL: {"toolName": "bash", "toolArgs": '{"command": "make lint"}',
                        "toolResult": {"resultType": "success", "textResultForLlm": "ok"}},
                 TOOL_FAILURE: {"toolName": "bash", "toolArgs": '{"command": "make deploy"}',
                                "error": "error: denied"},
                 STOP: {"transcriptPath": "", "stopReason": "end_turn"}, SESSION_START: {"source": "new"},
                 SESSION_END: {"reason": "exit"}, PRE_COMPACT: {"trigger": "auto"}}
        return {**base, **extra.get(kind, {})}
    if agent == "cursor":
        base = {"conversation_id": "every", "generation_id": "g", "hook_event_name": event,
                "workspace_roots": [cwd], "cursor_version": "2.0"}
        extra = {"beforeSubmitPrompt": {"prompt": "use the staging cluster for load tests", "attachments": []},
                 "afterShellExecution": {"command": "npm run build", "output": "build ok", "duration": 10},
                 "afterMCPExecution": {"tool_name": "search", "tool_input": '{"q": "x"}', "result_json": "{}",
                                       "duration": 5},
                 "afterFileEdit": {"file_path": f"{cwd}/a.ts", "edits": [{"old_string": "a", "new_string": "b"}]},
                 "afterAgentResponse": {"text": "I decided to split the module into two files."},
                 "stop": {"status": "completed", "loop_count": 0}}
        return {**base, **extra.get(event, {})}
    base = {"session_id": "every", "transcript_path": None, "cwd": cwd, "hook_event_name": event}
    extra = {SESSION_START: {"source": "startup"}, SESSION_END: {"reason": "other"},
             PROMPT: {"prompt": "rename the billing module to invoicing everywhere"},
             TOOL: {"tool_name": "Bash", "tool_input": {"command": "cargo test"}, "tool_response": "test result: ok"},
             TOOL_FAILURE: {"tool_name": "Bash", "tool_input": {"command": "make"}, "error": "error: no rule"},
             STOP: {"stop_hook_active": False, "last_assistant_message": "Renamed the module and updated imports.",
                    "prompt_response": "Renamed the module and updated imports."},
             PRE_COMPACT: {"trigger": "auto"}, POST_COMPACT: {"trigger": "auto", "compact_summary": "Renamed."}}
    return {**base, **extra.get(kind, {})}


@pytest.mark.parametrize(("agent", "event"), [
    (a, s.event) for a in ("claude-code", "gemini", "qwen", "codex", "droid", "cursor", "copilot")
    for s in __import__("nexus_memory.integrations.registry", fromlist=["tool"]).tool(a).events
])
def test_every_installed_event_is_understood_and_answered_in_contract(agent: str, event: str,
                                                                      tmp_path: Path) -> None:
    payload = _payload(agent, event, str(tmp_path))
    ev = normalize(agent, event, payload)
    assert ev.kind != "other", f"{agent} {event} is not recognised"
    assert ev.session_id == "every"
    out = hook(agent, event, payload)
    assert isinstance(out, dict)
    if out and agent in ("claude-code", "gemini", "qwen", "codex", "droid"):
        assert set(out) == {"hookSpecificOutput"} and out["hookSpecificOutput"]["hookEventName"] == event
    if out and agent == "copilot":
        assert set(out) == {"additionalContext"} and ev.kind in (SESSION_START, PROMPT)
    if ev.kind in (PROMPT, TOOL, TOOL_FAILURE):
        assert memories(agents=(ev.agent,)), f"{agent} {event} stored nothing"


@pytest.mark.parametrize("event", ["session.created", "chat.message", "tool.execute.after", "session.idle",
                                   "experimental.session.compacting", "session.compacted", "session.deleted"])
def test_every_opencode_plugin_call_is_understood(event: str, tmp_path: Path) -> None:
    payload: dict[str, Any] = {"sessionID": "oc-every", "cwd": str(tmp_path)}
    if event == "chat.message":
        payload["prompt"] = "keep the API backwards compatible for v1 clients"
    if event == "tool.execute.after":
        payload.update({"tool_name": "bash", "tool_input": {"command": "bun test"}, "tool_response": "2 pass"})
    ev = normalize("opencode", event, payload)
    assert ev.kind != "other" and ev.session_id == "oc-every"
    out = hook("opencode", event, payload)
    assert set(out) <= {"additionalContext"}
