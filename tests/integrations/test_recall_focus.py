"""A question's asked-for noun (domain/recall.py `focus`): a memory that shares the question's
subject but not what it asks for is a near miss and stays out of prompt recall; the memory that
answers it comes back. End to end through the real `nexus hook` command, hooks alone."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from nexus_memory.domain.recall import focus, term_set
from tests.conftest import run_nexus

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


def _hook(event: str, payload: dict[str, object], env: dict[str, str] | None = None) -> dict[str, object]:
    r = run_nexus("hook", "claude-code", event, input=json.dumps(payload), env={"NEXUS_PORT": "9", **(env or {})})
    assert r.returncode == 0, r.stderr
    out: dict[str, object] = json.loads(r.stdout or "{}")
    return out


def _recall(out: dict[str, object]) -> str:
    specific = out.get("hookSpecificOutput")
    return str(specific.get("additionalContext", "")) if isinstance(specific, dict) else ""


def _stored(text: str, timeout: float = 60) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        listed = json.loads(run_nexus("list", "--limit", "50", "--json").stdout)["memories"]
        if any(text in str(m["content"]) for m in listed):
            return True
        time.sleep(0.3)
    return False


def _session(tmp_path: Path, sid: str, prompt: str, finding: str) -> None:
    s = {"session_id": sid, "cwd": str(tmp_path)}
    _hook("SessionStart", {**s, "hook_event_name": "SessionStart", "source": "startup"})
    _hook("UserPromptSubmit", {**s, "hook_event_name": "UserPromptSubmit", "prompt": prompt})
    _hook("Stop", {**s, "hook_event_name": "Stop", "stop_hook_active": False, "last_assistant_message": finding})
    _hook("SessionEnd", {**s, "hook_event_name": "SessionEnd", "reason": "other"})


def test_a_near_miss_stays_out_and_the_answer_comes_back(tmp_path: Path) -> None:
    _session(tmp_path, "f-1", "look at how invoicing is wired", f"Found it: {SUBJECT_ONLY}.")
    assert _stored("sqs-invoices-prod")

    def ask(sid: str, prompt: str, env: dict[str, str] | None = None) -> str:
        base = {"session_id": sid, "cwd": str(tmp_path)}
        return _recall(_hook("UserPromptSubmit", {**base, "hook_event_name": "UserPromptSubmit", "prompt": prompt},
                             env))

    question = "what is the timeout of the invoicing worker?"
    # the switch off: the subject's words alone carry the near miss over the bar
    assert "sqs-invoices-prod" in ask("f-2", question, {"NEXUS_RECALL_FOCUS": "false"})
    assert ask("f-3", question) == ""
    assert "sqs-invoices-prod" in ask("f-4", "which queue does the invoicing worker consume?")

    _session(tmp_path, "f-5", "check the invoicing deploy settings", ANSWER)
    assert _stored("deploy/invoicing.yaml")
    recalled = ask("f-6", question)
    assert "45 seconds" in recalled and "sqs-invoices-prod" not in recalled
