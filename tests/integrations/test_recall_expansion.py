"""Per-prompt recall without `nexus serve`: a paraphrase that shares no word with what a session
stored comes back through related words (domain/expansion.py, the shipped neighbour table), and a
prompt about something else gets nothing. End to end through the real `nexus hook` command."""

from __future__ import annotations

from pathlib import Path

from nexus_memory.domain.recall import query_terms, term_set
from tests.integrations.helpers import context_of, hook_command, stored

FINDING = "Signin settings: the configuration lives in conf/auth.toml, section [session]."
PARAPHRASE = "where is the login config?"


def test_a_paraphrase_with_no_shared_word_is_recalled_without_a_server(tmp_path: Path) -> None:
    assert not set(query_terms(PARAPHRASE)) & term_set(FINDING), "the probe must share no content word"
    s1 = {"session_id": "exp-1", "cwd": str(tmp_path)}
    hook_command("SessionStart", {**s1, "hook_event_name": "SessionStart", "source": "startup"})
    hook_command("UserPromptSubmit", {**s1, "hook_event_name": "UserPromptSubmit", "prompt": "find where auth is set up"})
    hook_command("Stop", {**s1, "hook_event_name": "Stop", "stop_hook_active": False, "last_assistant_message": FINDING})
    hook_command("SessionEnd", {**s1, "hook_event_name": "SessionEnd", "reason": "other"})
    assert stored("conf/auth.toml"), "the worker stored the finding"

    def ask(sid: str, prompt: str, env: dict[str, str] | None = None) -> str:
        base = {"session_id": sid, "cwd": str(tmp_path)}
        return context_of(hook_command("UserPromptSubmit", {**base, "hook_event_name": "UserPromptSubmit", "prompt": prompt},
                             env))

    # words alone (the switch off) find nothing: the shipped table is what brings it back
    assert ask("exp-2", PARAPHRASE, {"NEXUS_RECALL_EXPANSION": "false"}) == ""
    on = {"NEXUS_RECALL_EXPANSION": "true"}
    recalled = ask("exp-3", PARAPHRASE, on)
    assert "conf/auth.toml" in recalled and "<nexus_recall>" in recalled
    assert ask("exp-4", "which colour is the staging banner in the mobile app?", on) == ""
