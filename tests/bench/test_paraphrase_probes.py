"""bench/data/paraphrase_probes.json keeps its promise: a strict paraphrase shares no content word
with anything its scenario stored, checked with recall's own tokenizer and stemmer (and with
identifiers split at `_ / . -`, as the full-text index splits them); and bench/loop.py loads the
file beside the base probes, which stay as they are."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

import pytest

from nexus_memory.domain.recall import query_terms, term_set

REPO = Path(__file__).resolve().parents[2]
SCENARIOS = REPO / "bench" / "data" / "coding_scenarios.json"
PROBES = REPO / "bench" / "data" / "paraphrase_probes.json"


def _stored_terms(scenario: dict[str, Any]) -> set[str]:
    texts = [scenario["project"]] + [str(v) for session in scenario["sessions"] for step in session
                                     for v in step.values()]
    blob = "\n".join(texts)
    return term_set(blob) | term_set(re.sub(r"[_/.\-]", " ", blob))


def test_strict_paraphrases_share_no_content_word_with_what_was_stored() -> None:
    scenarios = {s["id"]: s for s in json.loads(SCENARIOS.read_text("utf-8"))["scenarios"]}
    probes = json.loads(PROBES.read_text("utf-8"))["probes"]
    strict = [p for p in probes if p["kind"] == "paraphrase-strict"]
    unanswerable = [p for p in probes if p["kind"] == "unanswerable"]
    assert len(strict) >= 15 and len(unanswerable) >= 10
    assert {p["scenario"] for p in probes} <= set(scenarios)
    shared = {p["q"]: sorted(set(query_terms(p["q"])) & _stored_terms(scenarios[p["scenario"]])) for p in strict}
    assert {q: words for q, words in shared.items() if words} == {}
    assert all(p["expect"] for p in strict) and not any(p.get("expect") for p in unanswerable)
    # the check is not vacuous: a base paraphrase probe does share a word ("postgres" is not stored, "host" is)
    assert set(query_terms("which host and port do I use to reach the pre-prod postgres?")) & _stored_terms(
        scenarios["staging-env"])


def test_the_loop_bench_adds_the_probes_by_scenario_and_keeps_the_base_ones(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(REPO))
    sys.modules.pop("bench.loop", None)
    from bench.loop import load_coding, summarize

    base = load_coding(noise=0)
    both = load_coding(noise=0, extra_probes=(PROBES,))
    assert [[p.q for p in s.probes] for s in base] == [[p.q for p in s.probes if p.group == "base"] for s in both]
    extra = [p for s in both for p in s.probes if p.group == "paraphrase_probes"]
    assert len(extra) == len(json.loads(PROBES.read_text("utf-8"))["probes"])
    rows = [{"group": "base", "answerable": True, "kind": "fact", "recall": 1.0, "recall_prompt": 1.0,
             "recall_pack": 0.0, "recall_items": 1, "recall_items_with_evidence": 1, "prompt_tokens": 9,
             "pack_tokens": 0, "stale_items": 0},
            {"group": "paraphrase_probes", "answerable": False, "kind": "unanswerable", "recall": None,
             "recall_prompt": None, "recall_pack": None, "recall_items": 0, "recall_items_with_evidence": 0,
             "prompt_tokens": 5, "pack_tokens": 0, "stale_items": 0}]
    out = summarize(rows)
    assert out["groups"]["base"]["evidence_recall"] == 1.0
    assert out["groups"]["paraphrase_probes"]["false_recall_unanswerable"] == 1.0


@pytest.mark.parametrize("name", ["coding_scenarios.json", "coding_holdout.json"])
def test_every_expected_answer_was_stored_and_unanswerable_probes_expect_nothing(
        name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A probe the store cannot answer would score as a miss of the recall, not of the data."""
    monkeypatch.syspath_prepend(str(REPO))
    sys.modules.pop("bench.loop", None)
    from bench.loop import load_coding

    path = REPO / "bench" / "data" / name
    data = json.loads(path.read_text("utf-8"))
    assert len(load_coding(path, noise=2)) == len(data["scenarios"])
    for scenario in data["scenarios"]:
        said = "\n".join(str(v) for session in scenario["sessions"] for step in session for v in step.values()).lower()
        for probe in scenario["probes"]:
            if probe["kind"] == "unanswerable":
                assert probe["expect"] == [], probe["q"]
            else:
                assert probe["expect"] and all(e.lower() in said for e in probe["expect"]), probe["q"]
