"""The cap check on the hook path (issue 16): today's tokens of one agent, with a full ledger.

Fills an injection ledger with 90 days x 8 agents x N injections a day (the ledger keeps 90 days),
then times, in-process and interleaved: `injected_tokens(agent, today)` (the cap check: one sum over
the covering index), `record_injection` (one insert), and the old `record_metrics` insert that it
replaces. Also prints SQLite's plan for the cap check. Run: `python bench/injection_ledger.py`.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

from nexus_memory.domain.costs import Injection, days_back, local_day
from nexus_memory.storage.sqlite import SQLiteStore

AGENTS = ["claude-code", "gemini", "codex", "qwen", "opencode", "droid", "cursor", "copilot"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--per-day", type=int, default=100, help="injections per agent per day (default 100)")
    parser.add_argument("--runs", type=int, default=300)
    args = parser.parse_args()
    today = local_day()
    with tempfile.TemporaryDirectory() as tmp:
        store = SQLiteStore(Path(tmp) / "nexus.db")
        with store.write() as conn:
            rows = [(f"{days_back(today, d + 1)}T12:00:00Z", days_back(today, d + 1), agent, f"s{d}-{i % 7}",
                     "prompt_recall", 120, 350, "/repo", "UserPromptSubmit", "q", "[1, 2]", "{}", 0)
                    for d in range(90) for agent in AGENTS for i in range(args.per_day)]
            conn.executemany("INSERT INTO injections(recorded_at, day, agent, session_key, channel, tokens, budget, "
                             "project, source, query, memory_ids, reasons, capped) VALUES "
                             "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
        total = len(rows)
        plan = store._rows("EXPLAIN QUERY PLAN SELECT coalesce(sum(tokens), 0) AS total FROM injections "
                           "WHERE agent = ? AND day = ?", ("codex", today))[0]["detail"]
        check, insert, metric = [], [], []
        inj = Injection(agent="codex", channel="prompt_recall", tokens=120, session_key="bench", budget=350,
                        memory_ids=(1, 2, 3), reasons={"1": {"coverage": 0.5}}, day=today, source="UserPromptSubmit")
        for _ in range(args.runs):
            t0 = time.perf_counter()
            store.injected_tokens("codex", today)
            t1 = time.perf_counter()
            store.record_injection(inj)
            t2 = time.perf_counter()
            store.record_metrics([("recall.prompt_recall.tokens", 120.0, {"agent": "codex", "ids": [1, 2, 3]})])
            t3 = time.perf_counter()
            check.append((t1 - t0) * 1000)
            insert.append((t2 - t1) * 1000)
            metric.append((t3 - t2) * 1000)
        store.close()

    def summary(values: list[float]) -> dict[str, float]:
        ordered = sorted(values)
        return {"p50_ms": round(statistics.median(values), 3), "p95_ms": round(ordered[int(0.95 * (len(values) - 1))], 3)}

    print(json.dumps({"ledger_rows": total, "plan": plan, "cap_check": summary(check),
                      "record_injection": summary(insert), "old_record_metrics": summary(metric)}, indent=2))


if __name__ == "__main__":
    main()
