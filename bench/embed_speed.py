"""How fast the local model is on this machine, per kernel and thread count, and whether the int8
kernel finds what the float32 one finds.

Run: `make bench-embed` (python -m bench.embed_speed). Serve latency with embeddings depends
mostly on the query and stored-note times, so BENCHMARKS.md quotes them next to every serve run:
they tell a slower machine from a slower build. Median of --repeat runs over a fixed set of texts
from bench/corpus.py, one text per run as the server embeds them.

The kernels (NEXUS_EMBEDDING_KERNEL, embeddings/int8_kernel.py): `fp32` is the shipped graph as
onnxruntime folds it (float32 weights), `int8` keeps the weights int8 (MatMulNBits). Agreement:
cosine between the two kernels' vectors of the same text, and for --queries queries over
--documents notes the share of each query's top 10 (float32 vectors for both sides) that the int8
kernel's top 10 also holds.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from bench.corpus import Corpus
from nexus_memory.embeddings.onnx import OnnxEmbedder


def per_text_ms(embedder: OnnxEmbedder, texts: list[str], repeat: int) -> float:
    embedder.embed(texts[:1])
    runs = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        for text in texts:
            embedder.embed([text])
        runs.append((time.perf_counter() - t0) * 1000 / len(texts))
    return statistics.median(runs)


def agreement(fp32: OnnxEmbedder, int8: OnnxEmbedder, corpus: Corpus, queries: int, documents: int) -> dict[str, float]:
    docs = [corpus.content(10_000 + i) for i in range(documents)]
    asked = [corpus.query() for _ in range(queries)]
    d32, d8 = np.asarray(fp32.embed(docs)), np.asarray(int8.embed(docs))
    q32, q8 = np.asarray(fp32.embed(asked)), np.asarray(int8.embed(asked))
    cos = np.concatenate([np.sum(d32 * d8, axis=1), np.sum(q32 * q8, axis=1)])
    top32 = np.argsort(-(q32 @ d32.T), axis=1)[:, :10]
    top8 = np.argsort(-(q8 @ d8.T), axis=1)[:, :10]
    overlap = [len(set(a) & set(b)) / 10 for a, b in zip(top32.tolist(), top8.tolist(), strict=True)]
    # A store embedded by the float32 kernel, searched with int8 queries (an upgrade without re-embedding).
    mixed = np.argsort(-(q8 @ d32.T), axis=1)[:, :10]
    overlap_mixed = [len(set(a) & set(b)) / 10 for a, b in zip(top32.tolist(), mixed.tolist(), strict=True)]
    return {"cosine_min": round(float(cos.min()), 5), "cosine_mean": round(float(cos.mean()), 5),
            "top10_overlap": round(statistics.fmean(overlap), 4),
            "top10_overlap_min": round(min(overlap), 2),
            "top10_overlap_int8_queries_on_fp32_store": round(statistics.fmean(overlap_mixed), 4)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--documents", type=int, default=1000)
    args = ap.parse_args()
    corpus = Corpus(seed=7)
    queries = [corpus.query() for _ in range(20)]
    notes = [corpus.content(i) for i in range(10)]
    result: dict[str, object] = {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": f"{platform.machine()} {os.cpu_count()} cpu, Python {platform.python_version()}",
    }
    with tempfile.TemporaryDirectory(prefix="nexus-embed-bench-") as cache:
        for kernel in ("fp32", "int8"):
            for threads in (1, 2):
                embedder = OnnxEmbedder(threads=threads, kernel=kernel, cache_dir=Path(cache))
                tokens = statistics.mean(len(e.ids) for e in embedder._tokenizer.encode_batch(notes))
                result[f"{kernel}_threads_{threads}"] = {
                    "query_ms": round(per_text_ms(embedder, queries, args.repeat), 2),
                    "stored_note_ms": round(per_text_ms(embedder, notes, args.repeat), 2),
                    "stored_note_tokens": round(tokens, 1),
                }
        # What `auto` (the default) measures and chooses on this machine.
        auto = OnnxEmbedder(threads=1, cache_dir=Path(cache))
        result["auto_choice"] = auto.kernel.describe()
        fp32 = OnnxEmbedder(threads=2, kernel="fp32")
        int8 = OnnxEmbedder(threads=2, kernel="int8", cache_dir=Path(cache))
        result["agreement"] = agreement(fp32, int8, Corpus(seed=11), args.queries, args.documents)
    for threads in (1, 2):
        f, i = result[f"fp32_threads_{threads}"], result[f"int8_threads_{threads}"]
        assert isinstance(f, dict) and isinstance(i, dict)
        result[f"int8_speedup_threads_{threads}"] = {
            "query": round(f["query_ms"] / i["query_ms"], 2), "stored_note": round(f["stored_note_ms"] / i["stored_note_ms"], 2)}
    out = Path(__file__).resolve().parent / "results"
    out.mkdir(exist_ok=True)
    (out / "embed_speed.json").write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
