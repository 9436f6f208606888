"""What memory costs (issue 16, part 3), through the `nexus hook` entry point on a real store:
every injection is recorded (agent, session, channel, tokens, ids, why), `nexus stats` shows the
tokens per day and per session against the budgets, and the daily cap per agent holds: once it
is spent the session pack stops and prompt recall brings only strongly relevant memories.

The SQLite tests run everywhere; the same cap scenario runs on PostgreSQL (marked `postgres`).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from nexus_memory.app import build_app
from nexus_memory.config import load_settings
from nexus_memory.domain.costs import local_day
from nexus_memory.errors import ConfigError
from nexus_memory.services.recall import estimate_tokens
from tests.conftest import run_nexus
from tests.integrations.helpers import context_of, hook
from tests.integrations.test_memory_loop import _session

STRONG = "which index fixes the nightly export scan of the events table?"  # holds every word that matters
WEAK = "how long does the nightly export take now?"  # shares half the prompt's weight: the normal bar only


def _seed(cwd: Path) -> None:
    _session(cwd, "s1", [
        {"bash": "cat deploy/staging.env", "out": "APP_ENV=staging\nDB_HOST=db-stage-7.internal\nDB_PORT=6543\n"},
        {"say": "The nightly export scans the whole events table; an index on events.created_at fixes it."}])


def _start(cwd: Path, sid: str) -> str:
    """The session pack a fresh session gets."""
    return context_of(hook("claude-code", "SessionStart", {"session_id": sid, "cwd": str(cwd), "source": "startup",
                                                           "hook_event_name": "SessionStart"}))


def _prompt(cwd: Path, sid: str, prompt: str) -> str:
    """Prompt recall (in a session of its own, so no session pack already holds the memory)."""
    return context_of(hook("claude-code", "UserPromptSubmit", {"session_id": sid, "cwd": str(cwd), "prompt": prompt,
                                                               "hook_event_name": "UserPromptSubmit"}))


def _ask(cwd: Path, sid: str, prompt: str) -> tuple[str, str]:
    return _start(cwd, sid), _prompt(cwd, sid + "-p", prompt)


def _ledger(session_key: str) -> list[dict[str, object]]:
    app = build_app(load_settings(), embeddings=False, cognition=False)
    try:
        return [i.to_dict() for i in app.costs.injections(session_key)]
    finally:
        app.close()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    if request.param == "postgres":
        monkeypatch.setenv("NEXUS_DATABASE_URL", request.getfixturevalue("pg_url"))
    return str(request.param)


def test_every_injection_is_recorded_with_agent_session_channel_ids_and_reasons(tmp_path: Path,
                                                                               backend: str) -> None:
    _seed(tmp_path)
    pack, recall = _ask(tmp_path, "ask", WEAK)
    assert pack and recall
    (session_pack,), (prompt,) = _ledger("ask"), _ledger("ask-p")
    assert session_pack["channel"] == "session_pack" and prompt["channel"] == "prompt_recall"
    assert session_pack["tokens"] == estimate_tokens(pack) and session_pack["budget"] == 900
    assert session_pack["source"] == "SessionStart" and session_pack["reasons"] == {}
    assert prompt["tokens"] == estimate_tokens(recall) and prompt["budget"] == 350
    assert prompt["agent_type"] == "claude-code" and prompt["session_key"] == "ask-p"
    assert prompt["source"] == "UserPromptSubmit" and prompt["query"] == WEAK
    assert prompt["project"] == str(tmp_path) and prompt["day"] == local_day() and prompt["capped"] is False
    ids = prompt["memory_ids"]
    assert isinstance(ids, list) and ids and all(f"#{i}" in recall for i in ids)
    reasons = prompt["reasons"]
    assert isinstance(reasons, dict) and set(reasons) == {str(i) for i in ids}
    assert all("coverage" in why for why in reasons.values())


def test_the_daily_cap_stops_the_session_pack_and_keeps_only_strong_recall(
        tmp_path: Path, backend: str, monkeypatch: pytest.MonkeyPatch) -> None:
    _seed(tmp_path)
    # Under the cap, the weak prompt clears the normal bar: what the cap changes is visible.
    pack, weak = _ask(tmp_path, "before", WEAK)
    assert pack and "events.created_at" in weak
    monkeypatch.setenv("NEXUS_DAILY_TOKEN_CAP", "50")  # already spent today
    pack, weak = _ask(tmp_path, "after", WEAK)
    assert pack == "", "the session pack stops once the cap is spent"
    assert weak == "", "a weakly relevant memory is not worth the tokens any more"
    pack, strong = _ask(tmp_path, "after-strong", STRONG)
    assert pack == "" and "events.created_at" in strong, "a strongly relevant memory still comes"
    assert _ledger("after-strong") == [] and _ledger("after") == [] and _ledger("after-p") == []
    assert [(r["channel"], r["capped"]) for r in _ledger("after-strong-p")] == [("prompt_recall", True)]
    # The same through the installed console script, as an agent runs it.
    base = {"session_id": "cli", "cwd": str(tmp_path)}
    start = run_nexus("hook", "claude-code", "SessionStart", input=json.dumps({**base, "source": "startup"}))
    assert start.returncode == 0 and context_of(json.loads(start.stdout or "{}")) == ""
    for prompt, expected in ((WEAK, False), (STRONG, True)):
        out = run_nexus("hook", "claude-code", "UserPromptSubmit", input=json.dumps({**base, "prompt": prompt}))
        assert out.returncode == 0 and ("events.created_at" in context_of(json.loads(out.stdout))) is expected
    # A per-agent cap overrides the default: 0 turns it off for that agent.
    monkeypatch.setenv("NEXUS_DAILY_TOKEN_CAPS", "claude=0")
    pack, weak = _ask(tmp_path, "uncapped", WEAK)
    assert pack and "events.created_at" in weak


def test_the_cap_counts_every_channel_of_one_agent_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _seed(tmp_path)
    app = build_app(load_settings(), embeddings=False, cognition=False)
    try:
        app.costs.record(agent="claude-code", channel="mcp_results", tokens=5_000, ids=[1], session_key="mcp-x",
                         source="search_memories")
        app.costs.record(agent="gemini", channel="session_pack", tokens=50_000, ids=[1], session_key="g1")
    finally:
        app.close()
    monkeypatch.setenv("NEXUS_DAILY_TOKEN_CAP", "5500")  # 5,000 spent over MCP: a 900-token pack no longer fits
    pack, _ = _ask(tmp_path, "c1", WEAK)
    assert pack == ""
    monkeypatch.setenv("NEXUS_DAILY_TOKEN_CAPS", "claude-code=6500")  # room for one more pack (and gemini's
    pack, _ = _ask(tmp_path, "c2", WEAK)                                 # 50,000 are gemini's own)
    assert pack


def test_nexus_stats_shows_tokens_per_day_and_per_session_against_the_budget(tmp_path: Path) -> None:
    _seed(tmp_path)
    pack, recall = _ask(tmp_path, "ask", WEAK)
    spent = estimate_tokens(pack) + estimate_tokens(recall)
    proc = run_nexus("stats")
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "Tokens of memory injected, last 7 days (daily cap 1,000,000 tokens per agent" in out
    day_line = next(line for line in out.splitlines() if line.strip().startswith(local_day()))
    assert day_line.split()[1] == f"{spent:,}"
    assert f"today claude-code: {spent:,} of 1,000,000" in out
    assert f"claude-code ask: {estimate_tokens(pack):,} / 900" in out
    assert f"claude-code ask-p: {estimate_tokens(recall):,} / 350" in out and "in 1 injection(s)" in out
    proc = run_nexus("stats", "--json", "--days", "3")
    data = json.loads(proc.stdout)["injections"]
    assert data["days"] == 3 and data["today_by_agent"] == {"claude-code": spent}
    assert data["per_day"][-1]["channels"]["prompt_recall"] == estimate_tokens(recall)
    assert {s["session_key"] for s in data["sessions"]} == {"ask", "ask-p"}
    others = json.loads(run_nexus("stats", "--json", "-a", "gemini", "-a", "codex").stdout)["injections"]
    assert others["per_day"] == [] and others["sessions"] == [] and others["today_by_agent"] == {"codex": 0, "gemini": 0}
    mine = json.loads(run_nexus("stats", "--json", "-a", "claude", "-a", "codex").stdout)["injections"]
    assert mine["today_by_agent"] == {"claude-code": spent, "codex": 0} and len(mine["sessions"]) == 2
    bad = run_nexus("stats", "--days", "0")
    assert bad.returncode != 0 and "days 0 is out of range" in bad.stderr and len(bad.stderr.strip().splitlines()) <= 2


def test_cap_settings_are_checked(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("NEXUS_DAILY_TOKEN_CAPS", "claude-code=lots")
    with pytest.raises(ConfigError, match="'claude-code=lots' is not agent=tokens"):
        load_settings()
    monkeypatch.delenv("NEXUS_DAILY_TOKEN_CAPS")
    monkeypatch.setenv("NEXUS_DAILY_TOKEN_CAP", "-5")
    with pytest.raises(ConfigError, match="is negative"):
        load_settings()
    monkeypatch.delenv("NEXUS_DAILY_TOKEN_CAP")
    config = tmp_path / "config.toml"
    config.write_text('daily_token_cap = 2000\n[daily_token_caps]\n"gemini-cli" = 300\ncodex = 0\n')
    monkeypatch.setenv("NEXUS_CONFIG_FILE", str(config))
    app = build_app(load_settings(), embeddings=False, cognition=False)
    try:
        assert (app.costs.cap("gemini"), app.costs.cap("codex"), app.costs.cap("qwen")) == (300, 0, 2000)
    finally:
        app.close()


def test_the_strict_bar_and_the_cap_rule() -> None:
    from nexus_memory.domain.costs import parse_caps
    from nexus_memory.domain.recall import STRICT, Bar
    from nexus_memory.services.costs import CapState

    assert Bar().passes(0.3, None) and not STRICT.passes(0.3, None), "half the words: the normal bar only"
    assert STRICT.passes(0.6, None) and not STRICT.passes(0.59, None)
    assert Bar().passes(0.0, 0.65) and not STRICT.passes(0.0, 0.65) and STRICT.passes(0.0, 0.75)
    assert STRICT.passes(0.5, 0.65) and not STRICT.passes(0.49, 0.7)
    assert CapState("a", 99_200, 100_000).allows(900) is False, "a pack is never cut to fit"
    assert CapState("a", 99_200, 100_000).allows(350) and CapState("a", 10**9, 0).allows(900)
    assert parse_caps(" Claude = 20000 , codex=0,") == {"claude-code": 20000, "codex": 0}
