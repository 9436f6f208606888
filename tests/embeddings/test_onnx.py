"""The default offline embedder: real MiniLM int8 weights from the installed package."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from nexus_memory.embeddings import onnx

pytestmark = pytest.mark.skipif(onnx.missing_packages() is not None,
                                reason="the embeddings extra is not installed")


@pytest.fixture(scope="module")
def embedder() -> Iterator[onnx.OnnxEmbedder]:
    yield onnx.OnnxEmbedder()


def cos(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True))


def test_vendored_tokenizer_is_the_pinned_file() -> None:
    assert hashlib.sha256(onnx.TOKENIZER_PATH.read_bytes()).hexdigest() == onnx.TOKENIZER_SHA256
    assert (onnx.TOKENIZER_PATH.parent / "NOTICE.md").read_text().count("Apache License") >= 1


def test_vectors_are_unit_length_384d_and_order_preserving(embedder: onnx.OnnxEmbedder) -> None:
    texts = ["a much longer sentence about the quarterly database migration plan", "short", ""]
    vectors = embedder.embed(texts)
    assert len(vectors) == 3 and all(len(v) == 384 for v in vectors)
    assert all(abs(cos(v, v) - 1.0) < 1e-4 for v in vectors)
    assert embedder.embed([texts[1]])[0] == pytest.approx(vectors[1], abs=1e-4)  # batch position does not matter


def test_paraphrases_are_closer_than_unrelated_text(embedder: onnx.OnnxEmbedder) -> None:
    a, para, other = embedder.embed([
        "The connection pool is limited to twenty database connections.",
        "At most 20 DB connections can be open in the pool.",
        "My sister adopted a golden retriever puppy last spring.",
    ])
    assert cos(a, para) > 0.6 > cos(a, other) + 0.3


def test_long_text_is_truncated_not_rejected(embedder: onnx.OnnxEmbedder) -> None:
    [vector] = embedder.embed(["word " * 5000])
    assert len(vector) == 384


OFFLINE_PROBE = r"""
import socket, sys, urllib.request
try:
    urllib.request.urlopen("https://pypi.org/simple/", timeout=5)
    print("NETWORK-REACHABLE"); sys.exit(3)
except OSError:
    pass
from nexus_memory.app import build_app
from nexus_memory.config import load_settings
from nexus_memory.domain.enums import SearchMode
from nexus_memory.services.memories import StoreRequest
from nexus_memory.services.search import SearchQuery
app = build_app(load_settings())
app.memories.store(StoreRequest(content="The staging database lives on port 5433"))
app.memories.store(StoreRequest(content="Lunch is at noon on Fridays"))
hits = app.search.run(SearchQuery("which port does the staging db use", mode=SearchMode.VECTOR)).hits
print("TOP", hits[0].memory.content)
"""


def test_embeds_and_searches_with_the_network_disabled(tmp_path: Path) -> None:
    unshare = shutil.which("unshare")
    if unshare is None:
        pytest.skip("unshare(1) is not installed")
    if subprocess.run([unshare, "-n", "true"], capture_output=True, check=False).returncode != 0:
        pytest.skip("unshare -n needs root (or user namespaces) on this machine")
    env = {"PATH": "/usr/bin:/bin", "NEXUS_HOME": str(tmp_path), "NEXUS_EMBEDDING_BACKEND": "onnx",
           "HF_HUB_OFFLINE": "0", "HOME": str(tmp_path)}
    proc = subprocess.run([unshare, "-n", sys.executable, "-c", OFFLINE_PROBE], capture_output=True, text=True,
                          env=env, timeout=120, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "TOP The staging database lives on port 5433" in proc.stdout
