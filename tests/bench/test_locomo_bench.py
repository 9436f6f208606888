"""bench/locomo_retrieval.py end to end on a small LoCoMo-format file this test writes."""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

from nexus_memory.embeddings import onnx

SCRIPT = Path(__file__).resolve().parents[2] / "bench" / "locomo_retrieval.py"


def load_bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("locomo_retrieval", SCRIPT)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["locomo_retrieval"] = module
    spec.loader.exec_module(module)
    return module


FACTS = [
    ("Caroline", "I went to the LGBTQ support group yesterday and it was so powerful."),
    ("Melanie", "That sounds amazing, I am proud of you!"),
    ("Caroline", "I am researching adoption agencies because I want to build a family."),
    ("Melanie", "I painted a sunrise over the lake last weekend."),
    ("Caroline", "My grandmother gave me a necklace from Sweden."),
    ("Melanie", "We took the kids camping in the mountains and roasted marshmallows."),
    ("Caroline", "Thanks!"),
    ("Melanie", "Thanks!"),  # identical content in one conversation: merged into one memory
]


def sample(conv_no: int) -> dict[str, object]:
    conversation: dict[str, object] = {"speaker_a": "Caroline", "speaker_b": "Melanie"}
    for s in (1, 2):
        conversation[f"session_{s}_date_time"] = f"1:56 pm on {s + 7} May, 2023"
        conversation[f"session_{s}"] = [
            {"speaker": sp, "dia_id": f"D{s}:{i + 1}", "text": f"{text} (conversation {conv_no})"
             if "Thanks" not in text else text}
            for i, (sp, text) in enumerate(FACTS[(s - 1) * 4:(s - 1) * 4 + 4] + FACTS[6:])
        ]
    qa = [
        {"question": "What did Caroline research?", "answer": "Adoption agencies", "evidence": ["D1:3"], "category": 1},
        {"question": "When did Caroline go to the support group?", "answer": "7 May 2023", "evidence": ["D1:1"],
         "category": 2},
        {"question": "What did Melanie paint?", "answer": "A sunrise", "evidence": ["D1:4; D2:5"], "category": 4},
        {"question": "Where did Melanie's family go camping?", "answer": "mountains", "evidence": ["D2:2"],
         "category": 3},
        {"question": "Where is the necklace from?", "answer": "Sweden", "evidence": ["D2:1"], "category": 4},
        {"question": "What did Caroline say about unicorns?", "adversarial_answer": "nothing", "evidence": ["D1:1"],
         "category": 5},
        {"question": "A question with broken evidence", "answer": "-", "evidence": ["D9:99"], "category": 1},
    ]
    return {"sample_id": f"conv-{conv_no}", "conversation": conversation, "qa": qa}


@pytest.fixture
def data_file(tmp_path: Path) -> Path:
    path = tmp_path / "locomo-synthetic.json"
    path.write_text(json.dumps([sample(1), sample(2)]), "utf-8")
    return path


def test_metrics() -> None:
    b = load_bench()
    gold = frozenset({"D1:1", "D1:2"})
    ranked = ["D3:1", "D1:2", "D4:4", "D1:1"]
    assert b.recall_at(ranked, gold, 2) == 0.5 and b.recall_at(ranked, gold, 5) == 1.0
    assert b.hit_at(ranked, gold, 1) == 0.0 and b.hit_at(ranked, gold, 2) == 1.0
    assert b.mrr_at(ranked, gold, 10) == 0.5
    ideal = 1 + 1 / b.math.log2(3)
    assert b.ndcg_at(ranked, gold, 10) == pytest.approx((1 / b.math.log2(3) + 1 / b.math.log2(5)) / ideal)
    assert b.evidence_ids(["D8:6; D9:17", " D1:2 ", "D", None]) == {"D8:6", "D9:17", "D1:2"}
    assert b.ranked_dia_ids([5, 6, 5], {5: ["D1:1", "D2:2"], 6: ["D1:1"]}) == ["D1:1", "D2:2"]


def test_loader_reads_the_public_format(data_file: Path) -> None:
    b = load_bench()
    convs = b.load_locomo(data_file)
    assert [c.sample_id for c in convs] == ["conv-1", "conv-2"]
    assert len(convs[0].turns) == 12 and convs[0].turns[0].date == "1:56 pm on 8 May, 2023"
    assert [q.category for q in convs[0].questions] == [1, 2, 4, 3, 4]  # category 5 left out
    assert convs[0].questions[2].evidence == {"D1:4", "D2:5"}
    assert convs[0].skipped_questions == 1  # evidence that names no turn


def test_missing_file_is_one_clear_line(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, str(SCRIPT), "--data", str(tmp_path / "nope.json")],
                          capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.strip().count("\n") == 0
    assert "does not exist (pass --data PATH" in proc.stderr


@pytest.mark.skipif(onnx.missing_packages() is not None, reason="the embeddings extra is not installed")
def test_end_to_end_prints_every_mode_and_the_final_line(data_file: Path, tmp_path: Path) -> None:
    out_json = tmp_path / "report.json"
    proc = subprocess.run([sys.executable, str(SCRIPT), "--data", str(data_file), "--json", str(out_json)],
                          capture_output=True, text=True, timeout=180, check=False)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert re.fullmatch(r"hybrid recall@10 = [01]\.\d{3}", lines[-1])
    for mode in ("bm25", "vector", "hybrid", "hybrid-rrf"):
        assert any(line.startswith(f"== {mode}  (query latency p50") for line in lines)
    report = json.loads(out_json.read_text())
    assert report["questions"] == 10 and report["turns"] == 24 and report["skipped_questions"] == 2
    hybrid = report["modes"]["hybrid"]["table"]
    assert hybrid["overall"]["n"] == 10 and hybrid["4 single-hop"]["n"] == 4
    # 12 turns per conversation: every evidence turn is inside the top 20 of every mode
    for mode in report["modes"].values():
        assert mode["table"]["overall"]["recall@20"] == 1.0
    assert hybrid["overall"]["recall@10"] >= 0.8
    assert float(lines[-1].split("= ")[1]) == pytest.approx(hybrid["overall"]["recall@10"], abs=1e-3)
    assert report["ingest_per_sec"] > 0


@pytest.mark.skipif(onnx.missing_packages() is not None, reason="the embeddings extra is not installed")
def test_cache_is_reused_and_only_scores_the_named_conversations(data_file: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    args = [sys.executable, str(SCRIPT), "--data", str(data_file), "--cache", str(cache), "--modes", "hybrid,hybrid-fused"]
    first = subprocess.run([*args, "--json", str(tmp_path / "a.json")], capture_output=True, text=True, timeout=180,
                           check=False)
    assert first.returncode == 0, first.stderr
    assert "reused the store" not in first.stdout and (cache / "manifest.json").is_file()
    # a subset of the cached conversations reuses the store and scores only those
    again = subprocess.run([*args, "--only", "conv-2", "--ranking", "session_weight=0,entity_weight=0", "--json",
                            str(tmp_path / "b.json")], capture_output=True, text=True, timeout=180, check=False)
    assert again.returncode == 0, again.stderr
    assert "reused the store in --cache (24 memories)" in again.stdout
    report = json.loads((tmp_path / "b.json").read_text())
    assert report["ranking"] == "session_weight=0,entity_weight=0" and report["questions"] == 5
    assert set(report["modes"]["hybrid"]["recall@10_by_conversation"]) == {"conv-2"}
    # another ingest format (here: no retrieval context) is refused with a hint, nothing overwritten
    other = subprocess.run([*args, "--no-context"], capture_output=True, text=True, timeout=180, check=False)
    assert other.returncode == 2 and "holds another ingest" in other.stderr
    bad = subprocess.run([*args, "--ranking", "no_such_weight=1"], capture_output=True, text=True, timeout=180,
                         check=False)
    assert bad.returncode == 2 and "unknown setting 'no_such_weight'" in bad.stderr
