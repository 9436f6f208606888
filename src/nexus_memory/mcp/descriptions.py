"""Tool descriptions, written for the model that reads `tools/list`.

Each says when to use the tool, gives an example call, and says what to do when it
fails. `docs/mcp.md` documents the same tools for people; a test keeps both in step.
"""

from __future__ import annotations

TOOL_DESCRIPTIONS: dict[str, str] = {
    "store_memory": (
        "Save one durable fact, decision, preference or piece of context so that you and other agents can "
        "recall it in later sessions. Use it when the user states a preference, when a decision is made, or "
        "when you learn something about the project worth keeping; do not store secrets (they are redacted "
        "anyway) or whole files. Identical content in the same agent namespace is merged, not duplicated.\n"
        'Example: {"content": "The API uses cursor pagination; page size 50", "agent_type": "claude-code", '
        '"category": "facts", "labels": ["api"]}\n'
        "On error: the message names the field at fault (for example an unknown category: use one of general, "
        "facts, preferences, context, specifications, session); fix it and call again."
    ),
    "search_memories": (
        "Find stored memories relevant to a question or topic, best match first, with a score and a "
        "highlighted snippet. Use it before answering questions about the project's history, conventions or "
        "the user's preferences. Searches every agent unless agent_type is given.\n"
        'Example: {"query": "pagination page size", "limit": 5}\n'
        "On error: an empty query is refused (pass some words); when nothing matches you get an empty list: "
        "try fewer or different words, or list_memories to browse."
    ),
    "get_memory": (
        "Read one memory in full by its id (content, labels, metadata and cognitive fields). Use it after "
        "search_memories or list_memories returned an id you want to look at closely.\n"
        'Example: {"memory_id": 42}\n'
        "On error: 'does not exist' means the id is wrong or the memory was deleted; search again for a "
        "current id."
    ),
    "list_memories": (
        "Browse memories newest first, optionally for one agent and one category, a page at a time. Use it to "
        "see what is stored when you have no search words; use search_memories to find something specific.\n"
        'Example: {"agent_type": "claude-code", "category": "preferences", "limit": 20, "offset": 0}\n'
        "On error: limit must be 1-1000 and offset 0 or more; use next_offset from the previous page to "
        "continue."
    ),
    "delete_memory": (
        "Delete one memory for good, with its lineage and relations. Use it only when the user asks to remove "
        "something or a memory is plainly wrong; this cannot be undone.\n"
        'Example: {"memory_id": 42}\n'
        "On error: 'does not exist' means it was already deleted or the id is wrong; check with get_memory."
    ),
    "list_namespaces": (
        "List the agent namespaces (one per agent tool, such as claude-code or gemini) with how many active "
        "memories each holds. Use it to learn which agent_type values exist before filtering by one.\n"
        "Example: {}\n"
        "On error: a storage error means the database is unavailable; report the message to the user."
    ),
    "get_stats": (
        "Counts of memories per agent namespace: total, active, archived, per category and per cognitive "
        "level, oldest and newest. Use it to answer 'how much do you remember' or to check a store worked.\n"
        'Example: {"agent_type": "claude-code"}  (omit agent_type for every agent)\n'
        "On error: an unknown agent_type gives an empty list, not an error; check list_namespaces."
    ),
    "get_session_digest": (
        "The short and/or long summary of one agent session, written by the dream cycle. Use it to catch up "
        "on what happened in an earlier session.\n"
        'Example: {"agent_type": "claude-code", "session_key": "claude-code-4f1c2a", "digest_kind": "short"}\n'
        "On error: 'no digest exists' means the session has not ended or was never digested: call "
        "run_reflective_cycle with the same session_key, then ask again. 'no memories for agent' means the "
        "agent_type is wrong (see list_namespaces)."
    ),
    "run_reflective_cycle": (
        "Run the reflection step of the dream cycle now: reinforce repeated memories, flag contradictions and "
        "derive insights for one agent (and optionally one session). Use it at the end of a long task.\n"
        'Example: {"agent_type": "claude-code", "session_key": "claude-code-4f1c2a"}\n'
        "Returns how many jobs ran, by type, and any errors; it stops after a few seconds at most.\n"
        "On error: 'no memories for agent' means the agent_type is wrong (see list_namespaces); errors listed "
        "in the result are per job and leave the memories unchanged: carry on."
    ),
    "explain_memory_lineage": (
        "Explain where a memory came from: the source memories it was derived from, the memories derived from "
        "it, its relations, and its cognitive metadata (level, confidence, reinforcement). Use it when asked "
        "why Nexus believes something.\n"
        'Example: {"memory_id": 42}\n'
        "On error: 'does not exist' means the id is wrong; find it with search_memories."
    ),
    "build_working_representation": (
        "Build a bounded working set of memories for a task: recent session digests, recent memories, "
        "semantic matches for the query, derived observations and open contradictions. Use it at the start "
        "of a task to load relevant context in one call.\n"
        'Example: {"query": "refactor the storage layer", "agent_type": "claude-code", "max_items": 24}\n'
        "On error: 'no memories for agent' means the agent_type is wrong (see list_namespaces); max_items must "
        "be 4-100. If the result is empty, fall back to search_memories with the same query."
    ),
    "search_perspective_memories": (
        "Memories as seen from one perspective: what an observer recorded about a subject, optionally in one "
        "session and at one cognitive level. Use it for 'what did agent X learn about Y'.\n"
        'Example: {"agent_type": "claude-code", "observer": "claude-code", "subject": "user_session", '
        '"cognitive_level": "derived"}\n'
        "On error: 'no memories for agent' means the agent_type is wrong (see list_namespaces); an empty list "
        "means nothing matched that observer and subject: try search_memories."
    ),
    "derive_observations": (
        "Turn one raw memory (for example captured hook activity) into explicit observations now, instead of "
        "waiting for the dream cycle. Use it when a raw memory holds something worth keeping.\n"
        'Example: {"memory_id": 42, "agent_type": "claude-code"}\n'
        "Returns status derived, existing (already derived; ids given) or skipped (with the reason, e.g. only "
        "raw session activity is derived).\n"
        "On error: 'does not exist' means the memory id is wrong; to keep an observation from an explicit "
        "memory, store it yourself with store_memory."
    ),
    "initialize_nexus_system": (
        "Check that Nexus is ready and learn what it offers: version, storage backend, counts, agent "
        "namespaces and the tool list. Call it once at the start of a session if unsure the memory works.\n"
        "Example: {}\n"
        "On error: a storage error means the database cannot be opened; tell the user to run `nexus init`."
    ),
    "tool_help": (
        "Describe one tool, or list every tool with its one-line purpose. Use it when unsure which tool fits.\n"
        'Example: {"tool_name": "search_memories"}  (omit tool_name for the list)\n'
        "On error: an unknown tool name lists the valid names; pick one of them."
    ),
    "tool_schema": (
        "The JSON input schema of one tool, or of every tool. Use it to check field names and limits before a "
        "call.\n"
        'Example: {"tool_name": "store_memory"}\n'
        "On error: an unknown tool name lists the valid names; pick one of them."
    ),
}

#: Tools served by the cognition service (`app.cognition`); without it they report "not available yet".
COGNITION_TOOLS: tuple[str, ...] = (
    "get_session_digest",
    "run_reflective_cycle",
    "explain_memory_lineage",
    "build_working_representation",
    "search_perspective_memories",
    "derive_observations",
)
