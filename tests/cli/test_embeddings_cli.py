"""`nexus embeddings ...` and `nexus search --mode/--explain` through the real entry point."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from nexus_memory.embeddings import onnx
from tests.conftest import run_nexus

ONNX = {"NEXUS_EMBEDDING_BACKEND": "onnx"}
needs_model = pytest.mark.skipif(onnx.missing_packages() is not None, reason="the embeddings extra is not installed")


@needs_model
def test_status_backfill_search_explain_and_rebuild() -> None:
    # stored without vectors (backend none), then brought onto the model by backfill
    for text in ("The staging database listens on port 5433", "Bob is allergic to peanuts"):
        assert run_nexus("store", "-m", text).returncode == 0
    status = json.loads(run_nexus("embeddings", "status", "--json", env=ONNX).stdout)
    assert status["model"] == onnx.MODEL_ID and status["missing"] == 2 and status["available"] is True
    assert status["kernel"] == {"setting": "auto", "kernel": None,
                                "reason": "not measured yet: the first embedding decides"}

    proc = run_nexus("embeddings", "backfill", env=ONNX)
    assert proc.returncode == 0, proc.stderr
    assert "embedded 2 memories" in proc.stdout and "2/2 memories" in proc.stderr  # progress bar on stderr

    proc = run_nexus("search", "food allergies", "--explain", "--json", env=ONNX)
    out = json.loads(proc.stdout)
    assert out["mode"] == "hybrid" and out["embedding_model"] == onnx.MODEL_ID
    assert "peanuts" in out["results"][0]["memory"]["content"]
    assert {"cosine", "relevance", "prior", "score"} <= set(out["results"][0]["explain"])

    text = run_nexus("search", "staging port", "--explain", env=ONNX).stdout
    assert "(hybrid, all-MiniLM-L6-v2-onnx-int8)" in text and "bm25_norm=" in text and "cosine=" in text

    rebuilt = json.loads(run_nexus("embeddings", "rebuild", "--json", "--no-progress", env=ONNX).stdout)
    assert rebuilt["embedded"] == 2 and rebuilt["remaining"] == 0 and rebuilt["resumed"] is False
    # The backfill measured the kernels on this machine; status reads that record without loading the model.
    kernel = json.loads(run_nexus("embeddings", "status", "--json", env=ONNX).stdout)["kernel"]
    assert kernel["kernel"] in ("int8", "fp32") and kernel["cos_min"] >= 0.999 and kernel["reason"]
    assert "kernel:" in run_nexus("embeddings", "status", env=ONNX).stdout


def test_search_falls_back_to_bm25_with_a_note() -> None:
    run_nexus("store", "-m", "Deploys happen on Tuesdays")
    env = {"NEXUS_EMBEDDING_BACKEND": "http"}  # configured but no URL: unavailable
    proc = run_nexus("search", "deploys", "--json", env=env)
    out = json.loads(proc.stdout)
    assert out["mode"] == "bm25" and "NEXUS_EMBEDDING_BASE_URL" in out["note"]
    assert "note: searched with bm25 only" in proc.stderr
    quiet = run_nexus("search", "deploys")  # backend none on purpose: no note
    assert quiet.returncode == 0 and quiet.stderr == ""
    failed = run_nexus("search", "deploys", "--mode", "vector")
    assert failed.returncode == 1
    assert failed.stderr.startswith("nexus: error: vector search needs an embedding model")


def test_embeddings_commands_without_a_model_say_what_to_do() -> None:
    proc = run_nexus("embeddings", "backfill")
    assert proc.returncode == 1
    assert "no embedding model is configured" in proc.stderr and "NEXUS_EMBEDDING_BACKEND=onnx" in proc.stderr
    status = json.loads(run_nexus("embeddings", "status", "--json").stdout)
    assert status["available"] is False and status["model"] is None
    assert run_nexus("embeddings", "backfill", "--batch-size", "0", env=ONNX).returncode == 1


def test_unknown_onnx_model_is_a_config_error() -> None:
    proc = run_nexus("search", "x", env={**ONNX, "NEXUS_EMBEDDING_MODEL": "bge-large"})
    assert proc.returncode == 1 and "ships only all-MiniLM-L6-v2" in proc.stderr


LAZY_PROBE = r"""
import sys
from nexus_memory.app import build_app
from nexus_memory.config import load_settings
from nexus_memory.domain.enums import SearchMode
from nexus_memory.services.memories import StoreRequest
from nexus_memory.services.search import SearchQuery
app = build_app(load_settings())
app.memories.store(StoreRequest(content="tool call: ls", labels=["raw-activity"]))
hook_app = build_app(load_settings(), embeddings=False)
hook_app.memories.store(StoreRequest(content="a plain note from a hook"))
app.search.run(SearchQuery("note", mode=SearchMode.BM25))
print(sorted({m.split(".")[0] for m in sys.modules} & {"numpy", "onnxruntime", "tokenizers"}))
"""


def test_the_model_loads_only_when_something_is_embedded() -> None:
    env = {**os.environ, **ONNX}
    proc = subprocess.run([sys.executable, "-c", LAZY_PROBE], capture_output=True, text=True, env=env, timeout=60,
                          check=False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == "[]"


def test_init_reset_removes_the_vector_snapshots(nexus_home: Path) -> None:
    assert run_nexus("store", "-m", "something").returncode == 0
    db = nexus_home / "data" / "nexus.db"
    snapshots = db.with_name("nexus.db.vectors") / "0123456789abcdef"
    snapshots.mkdir(parents=True)
    (snapshots / "current.json").write_text("{}")
    assert run_nexus("init", "--reset", "--yes").returncode == 0
    assert not snapshots.parent.exists() and db.exists()
