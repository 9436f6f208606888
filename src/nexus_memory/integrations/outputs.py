"""The hook's stdout, in each tool's own contract. Always one JSON object; `{}` says nothing.

- Claude Code, Codex, Gemini CLI, Qwen Code, Factory Droid:
  `{"hookSpecificOutput": {"hookEventName": <event as the tool named it>, "additionalContext": ...}}`,
  only on the events where the tool reads it (session start, prompt; Qwen also PreCompact).
- Cursor: `{"additional_context": ...}` on sessionStart; `{"continue": true}` on beforeSubmitPrompt.
- OpenCode (our plugin reads it): `{"additionalContext": ...}`.
- Copilot CLI: top-level `{"additionalContext": ...}` on sessionStart and userPromptSubmitted (its
  changelog, 1.0.11 and 1.0.65, and `copilot-sdk/types.d.ts`; the real CLI puts it in the model
  request). The `hookSpecificOutput` form is not read there.
"""

from __future__ import annotations

import json

from nexus_memory.integrations.events import PRE_COMPACT, PROMPT, SESSION_START

CLAUDE_STYLE = frozenset({"claude-code", "codex", "gemini", "qwen", "droid"})
EMPTY = "{}"


def render(agent: str, kind: str, event_name: str, context: str) -> str:
    if agent == "cursor":
        if kind == PROMPT:
            return json.dumps({"continue": True})
        if kind == SESSION_START and context:
            return json.dumps({"additional_context": context})
        return EMPTY
    if not context:
        return EMPTY
    if agent in CLAUDE_STYLE:
        takes = {SESSION_START, PROMPT} | ({PRE_COMPACT} if agent == "qwen" else set())
        if kind not in takes:
            return EMPTY
        return json.dumps({"hookSpecificOutput": {"hookEventName": event_name, "additionalContext": context}},
                          ensure_ascii=False)
    if agent == "opencode":
        return json.dumps({"additionalContext": context}, ensure_ascii=False)
    if agent == "copilot" and kind in (SESSION_START, PROMPT):
        return json.dumps({"additionalContext": context}, ensure_ascii=False)
    return EMPTY
