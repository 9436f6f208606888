"""The memory loop (issue 12), through the hook entry point on a real store: what one session saw,
found or was told comes back in the next when relevant, and noise does not.

Each test replays sessions with documented Claude Code payloads (`hook(..., sync=True)` runs the
worker inline, so what a detached worker would store is there when the next session starts).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from nexus_memory.app import build_app
from nexus_memory.config import load_settings
from nexus_memory.domain.models import MemoryFilter
from nexus_memory.services.recall import estimate_tokens
from nexus_memory.services.search import SearchQuery
from tests.integrations.helpers import context_of, hook, memories


def _session(cwd: Path, sid: str, steps: list[dict[str, Any]]) -> None:
    base = {"session_id": sid, "cwd": str(cwd), "transcript_path": None}
    hook("claude-code", "SessionStart", {**base, "hook_event_name": "SessionStart", "source": "startup"})
    for step in steps:
        if "prompt" in step:
            hook("claude-code", "UserPromptSubmit", {**base, "hook_event_name": "UserPromptSubmit",
                                                     "prompt": step["prompt"]})
        elif "bash" in step:
            event = "PostToolUseFailure" if step.get("failed") else "PostToolUse"
            payload = {**base, "hook_event_name": event, "tool_name": "Bash",
                       "tool_input": {"command": step["bash"]}}
            if step.get("failed"):
                payload["error"] = step["out"]
            else:
                payload["tool_response"] = {"stdout": step["out"], "stderr": "", "interrupted": False}
            hook("claude-code", event, payload)
        elif "edit" in step:
            hook("claude-code", "PostToolUse", {**base, "hook_event_name": "PostToolUse", "tool_name": "Edit",
                                                "tool_input": {"file_path": step["edit"], "old_string": "a",
                                                               "new_string": "b"},
                                                "tool_response": {"filePath": step["edit"], "success": True}})
        elif "say" in step:
            hook("claude-code", "Stop", {**base, "hook_event_name": "Stop", "stop_hook_active": False,
                                         "last_assistant_message": step["say"]})
    hook("claude-code", "SessionEnd", {**base, "hook_event_name": "SessionEnd", "reason": "other"})


def _ask(cwd: Path, sid: str, prompt: str) -> tuple[str, str]:
    """(session pack, prompt recall) a fresh session gets."""
    base = {"session_id": sid, "cwd": str(cwd), "transcript_path": None}
    pack = context_of(hook("claude-code", "SessionStart", {**base, "hook_event_name": "SessionStart",
                                                           "source": "startup"}))
    recall = context_of(hook("claude-code", "UserPromptSubmit", {**base, "hook_event_name": "UserPromptSubmit",
                                                                 "prompt": prompt}))
    return pack, recall


def test_a_fact_seen_only_in_tool_output_comes_back_in_the_next_session(tmp_path: Path) -> None:
    _session(tmp_path, "s1", [{"bash": "cat deploy/staging.env",
                               "out": "APP_ENV=staging\nDB_HOST=db-stage-7.internal\nDB_PORT=6543\n"}])
    # Plain search finds it (episodes are searched by default), the extracted fact first.
    app = build_app(load_settings(), embeddings=False, cognition=False)
    try:
        hits = app.search.search(SearchQuery(text="db-stage-7"))
    finally:
        app.close()
    assert len(hits) == 2 and all("db-stage-7" in h.memory.content for h in hits)
    assert "extracted" in hits[0].memory.labels and hits[1].memory.is_raw_activity
    pack, recall = _ask(tmp_path, "s2", "where does the staging database live?")
    assert "db-stage-7" in pack + recall and "6543" in pack + recall


def test_a_fact_is_told_once_not_again_as_the_output_it_came_from(tmp_path: Path) -> None:
    out = "APP_ENV=staging\nDB_HOST=db-stage-7.internal\nDB_PORT=6543\n"
    _session(tmp_path, "s1", [{"bash": "cat deploy/staging.env", "out": out}])
    # The pack shows the extracted fact: the prompt recall does not show its episode again.
    pack, recall = _ask(tmp_path, "s2", "which port does db-stage-7 listen on?")
    assert "[extracted #" in pack and "DB_PORT=6543" in pack
    assert "DB_PORT" not in recall and "[episode #" not in recall
    # Without a pack (a session that started before the fact was stored), recall shows the fact once:
    # the extracted lines, not also the whole output they came from.
    base = {"session_id": "s3", "cwd": str(tmp_path), "transcript_path": None}
    recall = context_of(hook("claude-code", "UserPromptSubmit", {**base, "hook_event_name": "UserPromptSubmit",
                                                                 "prompt": "which port does db-stage-7 listen on?"}))
    assert recall.count("DB_PORT=6543") == 1 and "[extracted #" in recall and "[episode #" not in recall


def test_the_assistants_final_message_is_a_finding_that_comes_back(tmp_path: Path) -> None:
    _session(tmp_path, "s1", [
        {"prompt": "why is the nightly export slow?"},
        {"say": "The nightly export scans the whole events table; an index on events.created_at fixes it."}])
    pack, recall = _ask(tmp_path, "s2", "what did we find about the slow nightly export?")
    assert "events.created_at" in pack + recall
    assert "why is the nightly export slow?" not in pack + recall, "a question holds no fact: never recalled"


def test_an_unanswerable_prompt_gets_no_recall(tmp_path: Path) -> None:
    _session(tmp_path, "s1", [
        {"bash": "docker compose ps", "out": "api  0.0.0.0:8080->8000/tcp\npostgres  0.0.0.0:5433->5432/tcp"},
        {"say": "The local stack is up: the api on port 8080 and postgres on 5433."}])
    _pack, recall = _ask(tmp_path, "s2", "which port does the Elasticsearch cluster listen on?")
    assert recall == ""


def test_a_failure_followed_by_its_fix_is_a_resolution_not_a_contradiction(tmp_path: Path) -> None:
    _session(tmp_path, "s1", [
        {"prompt": "test_rounding fails in CI, please look"},
        {"bash": "pytest tests/test_invoice.py -q", "failed": True,
         "out": "FAILED tests/test_invoice.py::test_rounding - AssertionError: assert 10.01 == 10.00\n1 failed"},
        {"edit": "src/billing/invoice.py"},
        {"bash": "pytest tests/test_invoice.py -q", "out": "42 passed in 0.8s"},
        {"say": "Fixed: invoice totals are rounded once with Decimal.quantize instead of per line."}])
    stored = memories()
    failure = next(m for m in stored if m.is_raw_activity and "(failed)" in m.content)
    success = next(m for m in stored if m.is_raw_activity and "42 passed" in m.content)
    app = build_app(load_settings())
    try:
        relations = app.store.relations_for(failure.id)
        app.cognition.dream_cycle("claude-code", reason="test").to_dict()
        contradictions = app.store.list_memories(MemoryFilter(labels=("contradiction",)))
    finally:
        app.close()
    links = {(r.source_memory_id, r.target_memory_id, r.relation_type) for r in relations}
    assert (failure.id, success.id, "resolved_by") in links
    assert (success.id, failure.id, "supersedes") in links, "the newer run of the same command is the current state"
    resolution = next(m for m in memories() if "resolution" in m.labels)
    assert "src/billing/invoice.py" in resolution.content and "42 passed" in resolution.content
    assert contradictions == []


def test_a_question_never_contradicts_the_statement_that_answers_it(tmp_path: Path) -> None:
    _session(tmp_path, "s1", [{"say": "We fixed the rounding problem by not rounding each invoice line."}])
    _session(tmp_path, "s2", [{"prompt": "how did we fix the rounding problem?"}])
    app = build_app(load_settings())
    try:
        app.cognition.dream_cycle("claude-code", reason="test").to_dict()
        assert app.store.list_memories(MemoryFilter(labels=("contradiction",))) == []
    finally:
        app.close()


def test_a_revised_fact_wins_over_the_old_one(tmp_path: Path) -> None:
    _session(tmp_path, "s1", [{"bash": "node --version", "out": "v20.18.1"},
                              {"say": "The project runs on Node 20.18.1, pinned in .nvmrc."}])
    _session(tmp_path, "s2", [{"prompt": "we upgraded node this morning, update the pin"},
                              {"bash": "node --version", "out": "v22.11.0"},
                              {"say": "Node is now 22.11.0: .nvmrc is updated and 20.18.1 is gone."}])
    old = next(m for m in memories() if m.content.startswith("The project runs on Node 20.18.1"))
    assert old.cognitive is not None and old.cognitive.resolution_status == "superseded"
    pack, recall = _ask(tmp_path, "s3", "which node version does the project use?")
    context = pack + recall
    assert "22.11.0" in context
    assert "runs on Node 20.18.1" not in context and "v20.18.1" not in context


def test_bookkeeping_and_prompt_only_digests_stay_out(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    _session(tmp_path, "s1", [{"prompt": "how do we deploy this service?"}])
    _session(tmp_path, "s2", [{"bash": "cat Makefile", "out": "deploy:\n\tfly deploy --config fly.prod.toml"},
                              {"say": "Deploys run `make deploy`, which calls fly deploy with fly.prod.toml."}])
    pack, _ = _ask(tmp_path, "s3", "anything")
    app = build_app(load_settings(), embeddings=False, cognition=False)
    try:
        listed = app.memories.list_memories(limit=200)
        markers = app.memories.list_memories(MemoryFilter(labels=("runtime",), include_bookkeeping=True))
    finally:
        app.close()
    assert markers, "the seed's markers are still written"
    assert not any("runtime" in m.labels for m in listed), "the default list leaves bookkeeping out"
    digests = [m.content for m in memories() if "digest" in m.labels]
    assert not any("how do we deploy this service?" in d and "fly" not in d for d in digests)
    context_md = (tmp_path / ".nexus" / "context.md").read_text()
    assert "Runtime runtime session" not in context_md and "Runtime runtime session" not in pack
    assert "how do we deploy this service?" not in context_md


def test_every_injection_is_recorded_with_its_tokens_and_the_budgets_hold(tmp_path: Path) -> None:
    for i in range(30):
        _session(tmp_path, f"s{i}", [{"bash": f"cat services/svc{i}.env",
                                      "out": f"SERVICE_NAME=svc{i}\nQUEUE_HOST=mq-{i}.internal\nQUEUE_PORT={5600 + i}"},
                                     {"say": f"Service svc{i} talks to the queue at mq-{i}.internal:{5600 + i}."}])
    pack, recall = _ask(tmp_path, "ask", "which queue host and port does each service use?")
    assert recall and estimate_tokens(recall) <= 350
    assert pack and estimate_tokens(pack) <= 900
    app = build_app(load_settings(), embeddings=False, cognition=False)
    try:
        recorded = {i.channel: i for i in app.store.injections(session_key="ask")}
    finally:
        app.close()
    prompt = recorded["prompt_recall"]
    assert prompt.tokens == estimate_tokens(recall) and prompt.agent == "claude-code" and prompt.memory_ids
    assert prompt.budget == 350 and all(str(i) in prompt.reasons for i in prompt.memory_ids)
    assert recorded["session_pack"].tokens == estimate_tokens(pack) and recorded["session_pack"].budget == 900


def test_a_read_of_a_file_is_out_of_date_once_the_file_is_rewritten(tmp_path: Path) -> None:
    """What a read showed before the file was written whole is the old text: the write supersedes the
    read (a shell read such as `sed -n` counts as a read of its file) and the facts extracted from it;
    a partial edit leaves reads alone (the rest of what they show still holds); a file read again
    supersedes the earlier read of it."""
    base = {"session_id": "s1", "cwd": str(tmp_path), "transcript_path": None}
    _session(tmp_path, "s1", [
        {"bash": "sed -n '1,80p' mobile/app/build.gradle", "out": "defaultConfig {\n  versionName '4.1.0'\n}"},
        {"bash": "cat mobile/ios/Info.plist", "out": "CFBundleShortVersionString 4.1.0"},
        {"edit": "mobile/ios/Info.plist"}])
    hook("claude-code", "PostToolUse", {**base, "hook_event_name": "PostToolUse", "tool_name": "Write",
                                        "tool_input": {"file_path": str(tmp_path / "mobile/app/build.gradle"),
                                                       "content": "defaultConfig {\n  versionName '4.2.0'\n}"},
                                        "tool_response": {"type": "update", "filePath": "mobile/app/build.gradle"}})
    stored = memories()
    read = next(m for m in stored if m.is_raw_activity and "versionName '4.1.0'" in m.content)
    other = next(m for m in stored if m.is_raw_activity and "CFBundleShortVersionString" in m.content)
    write = next(m for m in stored if m.is_raw_activity and (m.metadata.get("capture") or {}).get("tool") == "Write")
    assert read.cognitive is not None and read.cognitive.resolution_status == "superseded"
    assert other.cognitive is not None and other.cognitive.resolution_status != "superseded", "a partial edit"
    app = build_app(load_settings())
    try:
        links = {(r.source_memory_id, r.target_memory_id, r.relation_type) for r in app.store.relations_for(read.id)}
    finally:
        app.close()
    assert (write.id, read.id, "supersedes") in links
    pack, recall = _ask(tmp_path, "s2", "which versionName does the android build use?")
    assert "4.2.0" in pack + recall and "'4.1.0'" not in pack + recall

    _session(tmp_path, "s3", [{"bash": "cat mobile/ios/Info.plist", "out": "CFBundleShortVersionString 4.2.0"}])
    other = next(m for m in memories() if m.id == other.id)
    assert other.cognitive is not None and other.cognitive.resolution_status == "superseded", "read again"


def test_a_partial_edit_updates_what_the_read_showed(tmp_path: Path) -> None:
    """An edit that replaces one line of a file seen read: the read with the edit applied supersedes the
    read, so the old line is not offered while the lines the edit left alone still are."""
    base = {"session_id": "s1", "cwd": str(tmp_path), "transcript_path": None}
    _session(tmp_path, "s1", [{"bash": "cat mobile/app/build.gradle",
                               "out": "defaultConfig {\n  minSdk 26\n  versionName '4.1.0'\n}"}])
    hook("claude-code", "PostToolUse", {**base, "hook_event_name": "PostToolUse", "tool_name": "Edit",
                                        "tool_input": {"file_path": str(tmp_path / "mobile/app/build.gradle"),
                                                       "old_string": "versionName '4.1.0'",
                                                       "new_string": "versionName '4.2.0'"},
                                        "tool_response": {"filePath": "mobile/app/build.gradle"}})
    stored = memories()
    read = next(m for m in stored if m.is_raw_activity and "versionName '4.1.0'" in m.content)
    edited = next(m for m in stored if "as-edited" in m.labels)
    assert "minSdk 26" in edited.content and "versionName '4.2.0'" in edited.content
    assert read.cognitive is not None and read.cognitive.resolution_status == "superseded"
    pack, recall = _ask(tmp_path, "s2", "what minSdk does the android build use?")
    assert "minSdk 26" in pack + recall
    pack, recall = _ask(tmp_path, "s3", "which versionName does the android build use?")
    lines = (pack + recall).splitlines()
    assert any("4.2.0" in line for line in lines)
    assert not [line for line in lines if "'4.1.0'" in line and "4.2.0" not in line], "only the edit names the old value"


GRADLE = "defaultConfig {\n  minSdk 26\n  versionName '4.1.0'\n  versionCode 41\n}"
PATCH = """*** Begin Patch
*** Update File: mobile/app/build.gradle
@@ defaultConfig {
   minSdk 26
-  versionName '4.1.0'
-  versionCode 41
+  versionName '4.2.0'
+  versionCode 42
 }
*** Delete File: mobile/app/legacy.gradle
*** End Patch"""


def test_a_codex_patch_updates_what_the_read_showed(tmp_path: Path) -> None:
    """Codex edits with `apply_patch`: each Update hunk is applied to the newest read of its file (as a
    string edit is), and a file the patch deletes or adds whole makes its earlier reads out of date."""
    base = {"session_id": "c1", "cwd": str(tmp_path), "transcript_path": None, "model": "gpt-5", "turn_id": "t1"}

    def tool(name: str, command: str, response: str) -> None:
        hook("codex", "PostToolUse", {**base, "hook_event_name": "PostToolUse", "tool_name": name,
                                      "tool_input": {"command": command}, "tool_response": response,
                                      "tool_use_id": f"call_{name}_{len(command)}"})

    hook("codex", "SessionStart", {**base, "hook_event_name": "SessionStart", "source": "startup"})
    tool("Bash", "sed -n '1,200p' mobile/app/build.gradle", f"Exit code: 0\nWall time: 0.1 seconds\nOutput:\n{GRADLE}")
    tool("Bash", "cat mobile/app/legacy.gradle", "Exit code: 0\nWall time: 0.1 seconds\nOutput:\nlegacyFlavor 'classic'")
    tool("apply_patch", PATCH, "Success. Updated the following files:\nM mobile/app/build.gradle\nD mobile/app/legacy.gradle")
    stored = memories()
    read = next(m for m in stored if m.is_raw_activity and "versionName '4.1.0'" in m.content)
    legacy = next(m for m in stored if m.is_raw_activity and "legacyFlavor" in m.content)
    edited = next(m for m in stored if "as-edited" in m.labels)
    assert "minSdk 26" in edited.content and "versionName '4.2.0'" in edited.content and "versionCode 42" in edited.content
    assert "'4.1.0'" not in edited.content
    assert read.cognitive is not None and read.cognitive.resolution_status == "superseded"
    assert legacy.cognitive is not None and legacy.cognitive.resolution_status == "superseded", "deleted by the patch"


def test_the_files_and_hunks_of_a_patch() -> None:
    from nexus_memory.integrations.capture import patch_text, patched_files

    files = patched_files(PATCH)
    assert [(f.path, f.action) for f in files] == [("mobile/app/build.gradle", "update"), ("mobile/app/legacy.gradle", "delete")]
    (old, new), = files[0].hunks
    assert old == "  minSdk 26\n  versionName '4.1.0'\n  versionCode 41\n}"
    assert new == "  minSdk 26\n  versionName '4.2.0'\n  versionCode 42\n}"
    assert patch_text({"command": PATCH}) == PATCH and patch_text({"command": ["apply_patch", PATCH]}) == PATCH
    assert patch_text({"command": "ls"}) is None and patched_files("no patch here") == []
