"""Near misses (domain/recall.py): a memory that shares a question's subject but not what it asks for
(`focus`), or that lacks a name the question uses and no memory of the project mentions (`names`),
stays out of prompt recall; the memory that answers comes back. End to end through the real
`nexus hook` command, hooks alone."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from nexus_memory.domain.recall import focus, names, term_set
from tests.integrations.helpers import context_of, hook_command, stored

SUBJECT_ONLY = "the invoicing worker consumes the queue sqs-invoices-prod in eu-west-3"
ANSWER = "The invoicing worker's timeout is set to 45 seconds in deploy/invoicing.yaml"


@pytest.mark.parametrize(("question", "head", "shaped"), [
    ("which terraform version is pinned in this repo?", "version", True),
    ("what is the retry policy for failed partner webhooks?", "policy", False),
    ("What port does the admin UI listen on?", "port", True),
    ("what's the timeout of the invoicing worker?", "timeout", True),
    ("What is Dana's favourite board game?", "game", False),
    ("which S3 bucket stores the exports?", "bucket", True),
])
def test_the_asked_for_noun(question: str, head: str, shaped: bool) -> None:
    f = focus(question)
    assert f is not None and f.head == term_set(head).pop() and (f.shape is not None) == shaped


@pytest.mark.parametrize("question", [
    "where does the staging database live?", "how long does the nightly job take?", "why did the deploy fail?",
    "what does the charge method require?", "what broke the build yesterday?", "which Redis instance do we use?",
    "what feature flag service does the app use?", "who owns the billing service?", "the port is 8080",
    # a class of things is answered by its members ("pottery"), which seldom name it: no focus
    "what kind of music does Sam like?", "What activities does Melanie partake in?", "which books did Ana read?",
])
def test_questions_without_a_focus(question: str) -> None:
    assert focus(question) is None


def test_a_compound_names_a_thing_an_attribute_needs_its_value() -> None:
    queue = focus("what is the task queue for thumbnails?")
    assert queue is not None and queue.held(term_set("we chose RQ for background tasks"), "we chose RQ for tasks")
    version = focus("which terraform version is pinned?")
    assert version is not None
    assert not version.held(term_set("terraform state bucket tf-eu"), "terraform state bucket tf-eu")
    assert version.held(term_set("terraform 1.9.8 is pinned"), "terraform 1.9.8 is pinned")


def _session(tmp_path: Path, sid: str, prompt: str, finding: str) -> None:
    s = {"session_id": sid, "cwd": str(tmp_path)}
    hook_command("SessionStart", {**s, "hook_event_name": "SessionStart", "source": "startup"})
    hook_command("UserPromptSubmit", {**s, "hook_event_name": "UserPromptSubmit", "prompt": prompt})
    hook_command("Stop", {**s, "hook_event_name": "Stop", "stop_hook_active": False, "last_assistant_message": finding})
    hook_command("SessionEnd", {**s, "hook_event_name": "SessionEnd", "reason": "other"})


def _asker(cwd: Path) -> Callable[..., str]:
    """Ask one prompt in a fresh session of the project at `cwd`: what prompt recall injects."""

    def ask(sid: str, prompt: str, env: dict[str, str] | None = None) -> str:
        base = {"session_id": sid, "cwd": str(cwd), "hook_event_name": "UserPromptSubmit", "prompt": prompt}
        return context_of(hook_command("UserPromptSubmit", base, env))

    return ask


def test_a_near_miss_stays_out_and_the_answer_comes_back(tmp_path: Path) -> None:
    _session(tmp_path, "f-1", "look at how invoicing is wired", f"Found it: {SUBJECT_ONLY}.")
    assert stored("sqs-invoices-prod")
    ask = _asker(tmp_path)

    question = "what is the timeout of the invoicing worker?"
    # the switch off: the subject's words alone carry the near miss over the bar
    assert "sqs-invoices-prod" in ask("f-2", question, {"NEXUS_RECALL_FOCUS": "false"})
    assert ask("f-3", question) == ""
    assert "sqs-invoices-prod" in ask("f-4", "which queue does the invoicing worker consume?")

    _session(tmp_path, "f-5", "check the invoicing deploy settings", ANSWER)
    assert stored("deploy/invoicing.yaml")
    recalled = ask("f-6", question)
    assert "45 seconds" in recalled and "sqs-invoices-prod" not in recalled


@pytest.mark.parametrize(("question", "expected"), [
    ("which feature flag service does the iOS app use?", ("ios",)),
    ("What is the Kubernetes namespace for staging?", ("kubernetes",)),
    ("How long did James take to finish his Witcher-inspired game?", ("james", "witcher")),
    ("When did Melanie go camping in June?", ("melanie",)),  # a month is a date, not a name
    # not one wh-question: a yes/no question is answered by the memory of the rival ("we use Bugsnag"),
    # and a task or several sentences may name anything
    ("Does the app use Sentry?", ()),
    ("Add Sentry to the iOS app.", ()),
    ("Fix the login bug. Which Redis instance does staging use?", ()),
    ("where does the staging database live?", ()),
    # the agent tools are who made the memories: their names are not in what the memories say
    ("What did Codex find in the Billing module?", ("billing",)),
])
def test_the_names_a_question_uses(question: str, expected: tuple[str, ...]) -> None:
    assert names(question) == expected


def test_a_name_no_memory_mentions_leaves_the_other_words_no_recall(tmp_path: Path) -> None:
    _session(tmp_path, "n-1", "clean up the feature_flags module",
             "Split the app's feature flag service (src/feature_flags/core.py) into smaller helpers; tests pass.")
    assert stored("src/feature_flags/core.py")
    ask = _asker(tmp_path)

    question = "which feature flag service does the iOS app use?"
    # the switch off: "feature" and "flag" alone carry the module's notes over the bar
    assert "feature_flags" in ask("n-2", question, {"NEXUS_RECALL_NAMES": "false"})
    assert ask("n-3", question) == ""
    # asking it again does not make the name known: the question itself is not an answer
    assert ask("n-4", question) == ""
    assert "feature_flags" in ask("n-5", "which feature flag tests did we touch?")

    _session(tmp_path, "n-6", "how do the mobile apps get their flags?",
             "The iOS app reads its feature flags from Firebase Remote Config (ios/Flags.swift).")
    # once a memory names it, the name is known: the bar alone decides again, and the answer leads
    recalled = ask("n-7", question)
    assert "Firebase Remote Config" in recalled
    assert "core.py" not in recalled or recalled.index("Firebase") < recalled.index("core.py")
