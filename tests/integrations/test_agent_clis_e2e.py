"""Every agent tool driven by its real CLI (pinned npm package) against a loopback mock of its model API.

Per tool, in a clean HOME with `nexus hooks install --agent <tool>` and two seeded memories:
- session 1: the prompt makes the mock call the CLI's own shell tool with `cat notes.txt`; the fact is
  in that file only (not in the command, not in the assistant's answer);
- session 2, same project: a question about it.
Asserted: which hook events the tool itself reports; the fact captured into the store (raw activity
included); the seeded memories (session pack, per-prompt recall) and our MCP tools in session 2's model
request; and (the memory loop, issue 12) the fact itself found by plain `nexus search` and in
session 2's request: through the per-prompt recall, or, for Droid's headless mode (`droid exec` fires
no per-prompt hook), through the session pack, which carries the fact line extracted from the tool's
output.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.integrations.agent_cli import (
    ANSWER_1,
    ANSWER_2,
    FACT,
    FACT_KEY,
    PROMPT_1,
    PROMPT_2,
    RECALL_MARK,
    SESSION_MARK,
    Sandbox,
    Session,
    cli_path,
)
from tests.integrations.cli_drivers import DRIVERS, Driver, Droid
from tests.integrations.model_mock import ModelMock, Turn, model_mock, view_of

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

SKIPS = {agent: cli_path(d.tool)[1] for agent, d in DRIVERS.items()}  # at import: NEXUS_* is dropped later


@dataclass
class Outcome:
    driver: Driver
    box: Sandbox
    mock: ModelMock
    s1: Session
    s2: Session
    fired: set[str]
    installed: dict[str, Any]


@pytest.fixture(scope="module", params=list(DRIVERS))
def outcome(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Any:
    agent = request.param
    if SKIPS[agent]:
        pytest.skip(SKIPS[agent])
    driver = DRIVERS[agent]
    box = Sandbox.create(tmp_path_factory.mktemp(agent.replace("-", "")))
    box.env.update(driver.home_env(box))
    with model_mock([Turn("alpha", ANSWER_1, "cat notes.txt"), Turn("bravo", ANSWER_2)]) as mock:
        driver.prepare(box)
        installed = box.install(agent)
        driver.configure(box, mock)
        box.seed()
        s1 = box.run(mock, driver.argv(box, PROMPT_1, 1), driver.env(box, mock, 1))
        box.settle()
        fired = driver.fired(box, s1, 1)
        s2 = box.run(mock, driver.argv(box, PROMPT_2, 2), driver.env(box, mock, 2))
        box.settle()
        yield Outcome(driver, box, mock, s1, s2, fired, installed)


def _explain(s: Session) -> str:
    return f"{s.proc.args}\nrc={s.proc.returncode}\nstdout:\n{s.proc.stdout[-2000:]}\nstderr:\n{s.proc.stderr[-3000:]}"


def test_both_sessions_run_and_the_hooks_fire(outcome: Outcome) -> None:
    o = outcome
    for s in (o.s1, o.s2):
        assert s.proc.returncode == 0, _explain(s)
        assert s.requests, f"the CLI sent no model request to the mock\n{_explain(s)}"
    assert ANSWER_1 in o.s1.proc.stdout, _explain(o.s1)
    # the mock's tool call ran for real: the file's content came back to the model
    assert FACT in o.s1.request_text(), "the shell tool's output never reached the model"
    assert o.driver.events <= o.fired, f"hook events reported by {o.driver.agent}: {sorted(o.fired)}"
    assert o.box.hook_errors() == "", o.box.hook_errors()
    if isinstance(o.driver, Droid):  # the shape Droid reads: no "Ignoring unknown hook event keys"
        assert o.driver.ignored_keys(o.box) == []


def test_the_fact_from_tool_output_is_captured(outcome: Outcome) -> None:
    o = outcome
    ours = [m for m in o.box.memories(raw=True) if m.get("agent_type") == o.driver.agent]
    assert any(FACT_KEY in str(m.get("content")) for m in ours), [m.get("content") for m in ours]
    prompts = [m for m in ours if PROMPT_1 in str(m.get("content"))]
    assert prompts or not o.driver.prompt_hook, "the prompt of session 1 was not captured"


def test_context_and_mcp_tools_reach_the_model_in_session_two(outcome: Outcome) -> None:
    o = outcome
    text = o.s2.request_text()
    assert SESSION_MARK in text, "the session-start pack did not reach the model request"
    if o.driver.prompt_hook:
        assert RECALL_MARK in text, "the per-prompt recall did not reach the model request"
    else:
        assert RECALL_MARK not in text
    tools = set().union(*(view_of(r).tools for r in o.s2.requests))
    assert o.driver.mcp_seen(o.box, tools) in (True, None), sorted(tools)


def test_the_fact_is_found_by_plain_search(outcome: Outcome) -> None:
    hits = outcome.box.search("staging database port")
    assert any(FACT_KEY in str(h.get("content")) for h in hits), [h.get("content") for h in hits]


def test_the_fact_reaches_the_model_in_session_two(outcome: Outcome) -> None:
    assert FACT_KEY in outcome.s2.request_text()


@pytest.mark.skipif(SKIPS["codex"] is not None, reason=SKIPS["codex"] or "")
def test_real_codex_reads_keys_appended_after_our_block_and_skips_untrusted_hooks(tmp_path: Path) -> None:
    """Two things the real Codex decides, not our reading of it.

    - The provider keys a user appends to config.toml after `nexus hooks install` are top-level keys
      for Codex (before the fix they landed in our `[mcp_servers.nexus-memory]` table, and Codex
      would have gone to its default provider instead of the mock).
    - Without trust (the TUI's /hooks) Codex runs none of our hooks and says nothing: the reason
      `nexus hooks status` names that step.
    """
    driver = DRIVERS["codex"]
    box = Sandbox.create(tmp_path)
    box.env.update(driver.home_env(box))
    with model_mock([Turn("alpha", ANSWER_1, "cat notes.txt")]) as mock:
        box.install("codex")
        config = box.home / ".codex" / "config.toml"
        with config.open("a") as fh:
            fh.write(f'model = "mock-model"\nmodel_provider = "mock"\n\n[model_providers.mock]\nname = "mock"\n'
                     f'base_url = "{mock.url}/v1"\nenv_key = "MOCK_MODEL_API_KEY"\nwire_api = "responses"\n')
        argv = ["node", str(driver.cli()), "exec", "--dangerously-bypass-approvals-and-sandbox",
                "--skip-git-repo-check", "--disable", "plugins", PROMPT_1]
        s = box.run(mock, argv, driver.env(box, mock, 1))
        assert s.proc.returncode == 0, _explain(s)
        assert s.requests, "Codex did not use the provider appended after our block"
        assert FACT in s.request_text()
        assert driver.fired(box, s, 1) == set(), "untrusted hooks ran"
        box.settle()
        assert not [m for m in box.memories() if m.get("agent_type") == "codex"]
        notes = " ".join(box.status("codex")["notes"])
        assert "/hooks" in notes and "trust" in notes
