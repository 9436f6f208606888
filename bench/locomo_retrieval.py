"""LoCoMo retrieval benchmark (issue 3). Run: `make bench-locomo` or
`python bench/locomo_retrieval.py --data PATH`.

Input: a LoCoMo JSON file (the public format of locomo10.json): a list of samples, each with
`sample_id`, `conversation` (`speaker_a`, `speaker_b`, `session_N` = list of turns
`{speaker, dia_id, text[, blip_caption]}`, `session_N_date_time`) and `qa` (list of
`{question, answer, evidence: [dia_id, ...], category}`; category 5 is adversarial and skipped).

Each conversation is ingested through the real MemoryService (embeddings included) into a fresh
SQLite database (or one kept in `--cache DIR` and reused while the data file and the ingest format
are the same, so ranking experiments only re-run the queries), one agent namespace per
conversation. A turn becomes one memory, as an importer of chat logs would store it:
  content = "<speaker>: <text>" (plus the photo caption, if any),
  context = "<session date>. <previous speaker>: <previous text>" (the retrieval context: indexed
            by FTS5 at a lower weight and embedded as the second vector kind, see docs/search.md),
  session_key = "<sample id>/session-<n>" (the conversation's session, as hooks record theirs),
  observer = the speaker (who said it; the perspective's observer).
Every question of categories 1-4 is then asked as a search limited to its conversation, in each
mode; a hit's dia_id(s) are compared with the question's evidence.

Metrics per category and overall (macro over questions): recall@5/10/20 (share of evidence turns
in the top k), hit@10 (any evidence turn in the top 10), MRR@10, nDCG@10 (binary relevance),
query latency p50/p95 (query embedding included: the query cache is cleared before each query)
and the ingest rate. The last line is `hybrid recall@10 = 0.xxx`.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO.parent / "shared" / "data" / "locomo" / "locomo-dev.json"
CATEGORIES = {1: "multi-hop", 2: "temporal", 3: "open-domain", 4: "single-hop"}
KS = (5, 10, 20)
MODES = ("bm25", "vector", "hybrid", "hybrid-fused", "hybrid-rrf")
#: Bumped whenever turn_requests stores turns differently (a --cache built before is then rebuilt).
INGEST_FORMAT = 2


class DataError(Exception):
    """The input file is missing or not in the LoCoMo format."""


@dataclass(frozen=True)
class Turn:
    dia_id: str
    speaker: str
    text: str
    date: str
    session: int = 0


@dataclass(frozen=True)
class Question:
    text: str
    category: int
    evidence: frozenset[str]


@dataclass
class Conversation:
    sample_id: str
    turns: list[Turn]
    questions: list[Question]
    skipped_questions: int = 0


# loading ------------------------------------------------------------------------------------------
def _session_numbers(conv: dict[str, Any]) -> list[int]:
    nums = [int(m.group(1)) for k in conv if (m := re.fullmatch(r"session_(\d+)", k))]
    return sorted(nums)


def evidence_ids(raw: Any) -> frozenset[str]:
    """Evidence dia_ids; LoCoMo has entries like "D8:6; D9:17" and stray spaces."""
    items = raw if isinstance(raw, list) else [raw]
    out: set[str] = set()
    for item in items:
        for part in re.split(r"[;,\s]+", str(item or "")):
            if re.fullmatch(r"D\d+:\d+", part.strip()):
                out.add(part.strip())
    return frozenset(out)


def load_locomo(path: Path) -> list[Conversation]:
    if not path.is_file():
        raise DataError(f"the LoCoMo data file {path} does not exist (pass --data PATH to a LoCoMo JSON file, "
                        "e.g. locomo10.json)")
    try:
        data = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError) as exc:
        raise DataError(f"cannot read {path} as JSON: {exc}") from None
    if isinstance(data, dict):
        data = [data]
    if not isinstance(data, list) or not data:
        raise DataError(f"{path} is not a LoCoMo file: expected a list of samples")
    out = []
    for n, sample in enumerate(data):
        if not isinstance(sample, dict) or not isinstance(sample.get("conversation"), dict):
            raise DataError(f"{path}: sample {n} has no `conversation` object")
        conv = sample["conversation"]
        turns: list[Turn] = []
        for s in _session_numbers(conv):
            date = str(conv.get(f"session_{s}_date_time") or "")
            for t in conv.get(f"session_{s}") or []:
                if isinstance(t, dict) and t.get("dia_id") and (t.get("text") or t.get("blip_caption")):
                    text = str(t.get("text") or "")
                    if t.get("blip_caption"):
                        text = f"{text} [shares a photo: {t['blip_caption']}]".strip()
                    turns.append(Turn(str(t["dia_id"]).strip(), str(t.get("speaker") or "?"), text, date, s))
        known = {t.dia_id for t in turns}
        questions, skipped = [], 0
        for qa in sample.get("qa") or []:
            try:
                category = int(qa.get("category"))
            except (TypeError, ValueError):
                skipped += 1
                continue
            if category not in CATEGORIES:
                continue
            gold = evidence_ids(qa.get("evidence")) & known
            if not gold or not str(qa.get("question") or "").strip():
                skipped += 1
                continue
            questions.append(Question(str(qa["question"]), category, gold))
        out.append(Conversation(str(sample.get("sample_id") or f"conv-{n}"), turns, questions, skipped))
    return out


# ingest -------------------------------------------------------------------------------------------
def turn_requests(conv: Conversation, agent: str, *, with_context: bool) -> list[tuple[str, Any]]:
    from nexus_memory.services.memories import StoreRequest

    out = []
    prev: Turn | None = None
    for turn in conv.turns:
        context = None
        if with_context:
            parts = [turn.date + "." if turn.date else ""]
            if prev is not None and prev.date == turn.date:
                parts.append(f"{prev.speaker}: {prev.text}")
            context = " ".join(p for p in parts if p) or None
        out.append((turn.dia_id, StoreRequest(content=f"{turn.speaker}: {turn.text}", agent=agent, context=context,
                                              category="context", source_stage="locomo-bench",
                                              session_key=f"{conv.sample_id}/session-{turn.session}",
                                              observer=turn.speaker)))
        prev = turn
    return out


# metrics ------------------------------------------------------------------------------------------
def ranked_dia_ids(memory_ids: Sequence[int], dia_of: dict[int, list[str]]) -> list[str]:
    out: list[str] = []
    for mid in memory_ids:
        for d in dia_of.get(mid, []):
            if d not in out:
                out.append(d)
    return out


def recall_at(ranked: Sequence[str], gold: frozenset[str], k: int) -> float:
    return len(set(ranked[:k]) & gold) / len(gold)


def hit_at(ranked: Sequence[str], gold: frozenset[str], k: int) -> float:
    return 1.0 if set(ranked[:k]) & gold else 0.0


def mrr_at(ranked: Sequence[str], gold: frozenset[str], k: int) -> float:
    for i, d in enumerate(ranked[:k], 1):
        if d in gold:
            return 1.0 / i
    return 0.0


def ndcg_at(ranked: Sequence[str], gold: frozenset[str], k: int) -> float:
    dcg = sum(1.0 / math.log2(i + 1) for i, d in enumerate(ranked[:k], 1) if d in gold)
    ideal = sum(1.0 / math.log2(i + 1) for i in range(1, min(len(gold), k) + 1))
    return dcg / ideal if ideal else 0.0


def score(ranked: Sequence[str], gold: frozenset[str]) -> dict[str, float]:
    out = {f"recall@{k}": recall_at(ranked, gold, k) for k in KS}
    out.update({"hit@10": hit_at(ranked, gold, 10), "mrr@10": mrr_at(ranked, gold, 10),
                "ndcg@10": ndcg_at(ranked, gold, 10)})
    return out


@dataclass
class ModeResult:
    per_question: list[tuple[int, dict[str, float]]] = field(default_factory=list)
    latencies_ms: list[float] = field(default_factory=list)

    def table(self) -> dict[str, dict[str, float]]:
        rows: dict[str, dict[str, float]] = {}
        groups: dict[str, list[dict[str, float]]] = {"overall": [s for _, s in self.per_question]}
        for cat, name in CATEGORIES.items():
            groups[f"{cat} {name}"] = [s for c, s in self.per_question if c == cat]
        for name, scores in groups.items():
            if scores:
                rows[name] = {key: statistics.fmean(s[key] for s in scores) for key in scores[0]}
                rows[name]["n"] = len(scores)
        return rows


def percentile(values: Sequence[float], pct: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    idx = min(len(ordered) - 1, max(0, math.ceil(pct / 100 * len(ordered)) - 1))
    return ordered[idx]


# run ----------------------------------------------------------------------------------------------
def build(tmp: Path, embedder: str) -> Any:
    from nexus_memory.app import build_app
    from nexus_memory.config import load_settings

    env = {k: v for k, v in os.environ.items() if k.startswith("NEXUS_EMBEDDING_")}
    env.update({"NEXUS_HOME": str(tmp), "NEXUS_EMBEDDING_BACKEND": embedder,
                "NEXUS_COGNITION_AUTO_RUNTIME_ENABLED": "false"})
    for key in ("PATH", "HOME"):
        if key in os.environ:
            env[key] = os.environ[key]
    return build_app(load_settings(env))


def ranking_config(spec: str) -> Any:
    """RankingConfig with `name=value,...` overrides (e.g. "session_weight=0,entity_weight=0.3")."""
    from dataclasses import fields

    from nexus_memory.domain.hybrid import RankingConfig

    types = {f.name: f.type for f in fields(RankingConfig)}
    values: dict[str, Any] = {}
    for item in filter(None, (p.strip() for p in spec.split(","))):
        name, _, raw = item.partition("=")
        if name not in types:
            raise DataError(f"--ranking: unknown setting {name!r} (one of {', '.join(sorted(types))})")
        kind = str(types[name])
        values[name] = raw if kind == "str" else int(raw) if kind == "int" else \
            raw.lower() in ("1", "true", "yes") if kind == "bool" else float(raw)
    return RankingConfig(**values)


def ingest(app: Any, conversations: list[Conversation],
           args: argparse.Namespace) -> tuple[dict[int, list[str]], int, bool]:
    """Store every turn (memory id -> dia_ids, turns stored, False), or reuse the --cache
    manifest (..., True)."""
    manifest = Path(args.cache) / "manifest.json" if args.cache else None
    key = {"format": INGEST_FORMAT, "data": str(Path(args.data).resolve()), "size": Path(args.data).stat().st_size,
           "mtime": Path(args.data).stat().st_mtime, "context": not args.no_context,
           "embedder": app.embeddings.model_id if app.embeddings is not None else None}
    samples = [c.sample_id for c in conversations]
    if manifest is not None and manifest.is_file():
        saved = json.loads(manifest.read_text("utf-8"))
        if saved.get("key") == key and set(samples) <= set(saved.get("samples", [])):
            return {int(k): v for k, v in saved["dia_of"].items()}, int(saved["turns"]), True
        raise DataError(f"--cache {args.cache} holds another ingest (data, format, model or conversations "
                        "differ): delete that folder or pass another one")
    dia_of: dict[int, list[str]] = {}
    ingested = 0
    for conv in conversations:
        items = turn_requests(conv, f"locomo-{conv.sample_id}", with_context=not args.no_context)
        for start in range(0, len(items), args.batch):
            chunk = items[start:start + args.batch]
            outcomes = app.memories.store_many([req for _, req in chunk])
            for (dia_id, _), outcome in zip(chunk, outcomes, strict=True):
                dia_of.setdefault(outcome.memory.id, []).append(dia_id)
            ingested += len(chunk)
    if manifest is not None:
        manifest.write_text(json.dumps({"key": key, "samples": samples, "turns": ingested, "dia_of": dia_of}),
                            "utf-8")
    return dia_of, ingested, False


def run(args: argparse.Namespace) -> dict[str, Any]:
    from nexus_memory.domain.enums import SearchMode
    from nexus_memory.domain.models import MemoryFilter
    from nexus_memory.services.search import SearchQuery, SearchService

    conversations = load_locomo(Path(args.data))
    if args.only:
        wanted = {s.strip() for s in args.only.split(",") if s.strip()}
        conversations = [c for c in conversations if c.sample_id in wanted]
        if not conversations:
            raise DataError(f"--only {args.only}: no such sample_id in {args.data}")
    conversations = conversations[: args.conversations or None]
    config = ranking_config(args.ranking)
    with tempfile.TemporaryDirectory(prefix="nexus-locomo-") as tmp:
        home = Path(args.cache) if args.cache else Path(tmp)
        home.mkdir(parents=True, exist_ok=True)
        app = build(home, args.embedder)
        try:
            vectors = app.embeddings
            have_vectors = vectors is not None and vectors.available()
            modes = [m for m in args.modes.split(",") if m]
            if not have_vectors:
                reason = vectors.unavailable_reason() if vectors else "no embedding service"
                print(f"note: vectors unavailable ({reason}); running bm25 only", file=sys.stderr)
                modes = [m for m in modes if m == "bm25"]
            main = SearchService(app.store, vectors, config=config)
            services = {
                "bm25": (main, SearchMode.BM25),
                "vector": (main, SearchMode.VECTOR),
                "hybrid": (main, SearchMode.HYBRID),
                # the fusion without the neighbourhood stage (the turn form and the priors still apply)
                "hybrid-fused": (SearchService(app.store, vectors, config=replace(
                    config, session_weight=0.0, entity_weight=0.0)), SearchMode.HYBRID),
                "hybrid-rrf": (SearchService(app.store, vectors, config=replace(config, fusion="rrf", rrf_k=10)),
                               SearchMode.HYBRID),
            }
            if have_vectors and vectors is not None:
                vectors.embed_query("warm up the model")  # load time is not query latency
            t0 = time.perf_counter()
            dia_of, ingested, reused = ingest(app, conversations, args)
            ingest_secs = time.perf_counter() - t0
            results = {m: ModeResult() for m in modes}
            per_conv: dict[str, dict[str, list[float]]] = {}
            asked = 0
            for conv in conversations:
                flt = MemoryFilter(agents=(f"locomo-{conv.sample_id}",))
                for q in conv.questions[: args.max_questions or None]:
                    asked += 1
                    for mode in modes:
                        service, search_mode = services[mode]
                        if vectors is not None:
                            vectors.clear_query_cache()
                        t = time.perf_counter()
                        hits = service.run(SearchQuery(q.text, flt, max(KS), search_mode)).hits
                        results[mode].latencies_ms.append((time.perf_counter() - t) * 1000)
                        ranked = ranked_dia_ids([h.memory.id for h in hits], dia_of)
                        results[mode].per_question.append((q.category, score(ranked, q.evidence)))
                        per_conv.setdefault(mode, {}).setdefault(conv.sample_id, []).append(
                            results[mode].per_question[-1][1]["recall@10"])
        finally:
            app.close()
    return {
        "data": str(args.data), "conversations": len(conversations), "turns": ingested, "questions": asked,
        "skipped_questions": sum(c.skipped_questions for c in conversations),
        "embedder": (vectors.model_id if have_vectors and vectors else None), "context": not args.no_context,
        "ingest_secs": ingest_secs, "ingest_per_sec": ingested / ingest_secs if ingest_secs else 0.0,
        "ranking": args.ranking, "cached_ingest": reused,
        "modes": {m: {"table": r.table(), "latency_ms": {"p50": percentile(r.latencies_ms, 50),
                                                         "p95": percentile(r.latencies_ms, 95)},
                      "recall@10_by_conversation": {c: statistics.fmean(v) for c, v in per_conv.get(m, {}).items()}}
                  for m, r in results.items()},
    }


def render(report: dict[str, Any]) -> str:
    lines = [f"LoCoMo retrieval: {report['conversations']} conversations, {report['turns']} turns, "
             f"{report['questions']} questions (categories 1-4; {report['skipped_questions']} without usable "
             f"evidence skipped); embedder {report['embedder'] or '-'}; retrieval context "
             f"{'on' if report['context'] else 'off'}",
             (f"ingest: reused the store in --cache ({report['turns']} memories)" if report.get("cached_ingest")
              else f"ingest: {report['turns']} memories in {report['ingest_secs']:.1f} s = "
                   f"{report['ingest_per_sec']:.0f} memories/s (embeddings included)"),
             f"ranking overrides: {report.get('ranking') or 'none (defaults)'}"]
    cols = ["recall@5", "recall@10", "recall@20", "hit@10", "mrr@10", "ndcg@10"]
    for mode, res in report["modes"].items():
        lat = res["latency_ms"]
        lines.append("")
        lines.append(f"== {mode}  (query latency p50 {lat['p50']:.1f} ms, p95 {lat['p95']:.1f} ms)")
        lines.append(f"{'category':<16}{'n':>6}" + "".join(f"{c:>11}" for c in cols))
        for name, row in res["table"].items():
            lines.append(f"{name:<16}{int(row['n']):>6}" + "".join(f"{row[c]:>11.3f}" for c in cols))
        by_conv = res.get("recall@10_by_conversation") or {}
        if len(by_conv) > 1:
            lines.append("recall@10 by conversation: " + ", ".join(f"{c} {v:.3f}" for c, v in by_conv.items()))
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", default=os.environ.get("NEXUS_LOCOMO_DATA", str(DEFAULT_DATA)),
                        help=f"LoCoMo JSON file (default {DEFAULT_DATA})")
    parser.add_argument("--embedder", default="onnx", help="onnx (default), http or none")
    parser.add_argument("--modes", default=",".join(MODES), help=f"comma separated subset of {','.join(MODES)}")
    parser.add_argument("--conversations", type=int, default=0, help="only the first N conversations")
    parser.add_argument("--only", default="", help="only these sample_ids, comma separated (leave-conversations-out)")
    parser.add_argument("--ranking", default="", help="RankingConfig overrides, e.g. session_weight=0.3,entity_weight=0")
    parser.add_argument("--cache", metavar="DIR", help="keep the ingested store in DIR and reuse it on later runs")
    parser.add_argument("--max-questions", type=int, default=0, help="at most N questions per conversation")
    parser.add_argument("--batch", type=int, default=64, help="turns per store_many batch (default 64)")
    parser.add_argument("--no-context", action="store_true", help="ablation: store turns without retrieval context")
    parser.add_argument("--json", metavar="PATH", help="also write the full report as JSON")
    args = parser.parse_args(argv)
    try:
        report = run(args)
    except (DataError, ValueError, TypeError) as exc:
        print(f"locomo_retrieval: {exc}", file=sys.stderr)
        return 2
    print(render(report))
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2), "utf-8")
    final = report["modes"].get("hybrid") or report["modes"].get("bm25")
    name = "hybrid" if "hybrid" in report["modes"] else "bm25"
    print(f"{name} recall@10 = {final['table']['overall']['recall@10']:.3f}" if final and final["table"]
          else f"{name} recall@10 = n/a (no questions)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
