"""The evaluation fixture: cognition must beat plain text search on it; reflection stays sub-quadratic."""

from __future__ import annotations

from nexus_memory.app import App
from nexus_memory.domain import reflection as rules
from nexus_memory.domain.timeutil import utcnow
from nexus_memory.services import evaluation
from tests.conftest import run_nexus


def test_cognition_beats_text_only_on_the_fixture(app: App) -> None:
    report = evaluation.evaluate(app, utcnow())
    modes = {m["mode"]: m for m in report["modes"]}
    text, cog = modes["text-only"], modes["cognition"]
    assert report["memories"] == 22 and report["queries"] == 8
    assert cog["recall"] >= text["recall"] and cog["precision"] > text["precision"]
    assert text["contradiction_surfacing"] == 0.0 and cog["contradiction_surfacing"] >= 0.75
    assert text["stale_first"] > 0 and cog["stale_first"] == 0
    assert report["dream"]["digests"] == ["created", "created", "created"]


def test_eval_command_runs_in_a_throwaway_home() -> None:
    r = run_nexus("eval", "--embeddings", "none")
    assert r.returncode == 0, r.stderr
    assert "cognition" in r.stdout and "Cognition score:" in r.stdout and "LLM: none configured" in r.stdout
    assert run_nexus("stats").stdout.startswith("No memories yet")


def test_reflection_compares_far_fewer_pairs_than_all() -> None:
    words = ["billing", "search", "auth", "mobile", "export", "relay", "metrics", "admin", "payment", "cache"]
    facts = ["retries failed calls", "uses a worker pool", "times out quickly", "keeps history", "logs as JSON"]
    texts = [f"The {w} service {f} in region {r}" for w in words for f in facts for r in ("eu", "us", "ap", "sa")]
    sts = [rules.analyse(i, t) for i, t in enumerate(texts)]
    n = len(sts)
    plan = rules.plan_reflection(sts)
    assert plan.pairs_compared < n * (n - 1) // 2 // 2
