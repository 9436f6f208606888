"""How fast the local model is on this machine: one query, and one stored note, per thread count.

Run: `make bench-embed` (python -m bench.embed_speed). Serve latency with embeddings depends
mostly on these two numbers, so BENCHMARKS.md quotes them next to every serve run: they tell a
slower machine from a slower build. Median of --repeat runs over a fixed set of texts from
bench/corpus.py; the texts are tokenised the way the embedder does it.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time

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


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    corpus = Corpus(seed=7)
    queries = [corpus.query() for _ in range(20)]
    notes = [corpus.content(i) for i in range(10)]
    result: dict[str, object] = {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": f"{platform.machine()} {os.cpu_count()} cpu, Python {platform.python_version()}",
    }
    for threads in (1, 2):
        embedder = OnnxEmbedder(threads=threads)
        tokens = statistics.mean(len(e.ids) for e in embedder._tokenizer.encode_batch(notes))
        result[f"threads_{threads}"] = {
            "query_ms": round(per_text_ms(embedder, queries, args.repeat), 2),
            "stored_note_ms": round(per_text_ms(embedder, notes, args.repeat), 2),
            "stored_note_tokens": round(tokens, 1),
        }
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
