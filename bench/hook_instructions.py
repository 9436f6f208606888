"""Hook cost in CPU instructions, not seconds: `make bench-hooks-instructions` (needs valgrind).

The machines we measure on are shared: a wall-clock p95 moves by 2x with the load of other jobs
(BENCHMARKS.md). `valgrind --tool=callgrind` counts the instructions a process executes, which is the
same for the same code, input and store whatever else runs beside it. This measures one tool-call
capture and one prompt recall (10k memories, as bench/hook_latency.py seeds them) for this checkout
and, with `--baseline DIR`, for another one, each on its own store seeded by its own code, and prints
the ratio. Fresh processes, as the agents start them; the first runs are warm-ups (bytecode cached,
the session's runtime state written), the counted ones run after them.

Instructions are not time: I/O waits, page faults and cache misses are not in them. Read the ratio
next to bench/hook_latency.py's wall-clock numbers, not instead of them.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.hook_latency import seeded_homes, settle

REPO = Path(__file__).resolve().parents[1]
PROMPTS = ["which port does the database pool use?", "what timeout does the API gateway have"]


def _payloads(i: int, cwd: Path) -> dict[str, str]:
    output = "".join(f"test_module_{k:03d}.py::test_case PASSED [{k % 100:3d}%]\n" for k in range(80))[:4000]
    return {
        "PostToolUse": json.dumps({"session_id": f"bench-{i}", "cwd": str(cwd), "hook_event_name": "PostToolUse",
                                   "tool_name": "Bash", "tool_input": {"command": f"pytest -q tests/part_{i}"},
                                   "tool_response": {"stdout": output, "stderr": ""}}),
        "UserPromptSubmit": json.dumps({"session_id": "bench-session", "cwd": str(cwd),
                                        "hook_event_name": "UserPromptSubmit", "prompt": PROMPTS[i % len(PROMPTS)]}),
    }


def _instructions(cmd: list[str], stdin: str, env: dict[str, str], out: Path) -> int:
    proc = subprocess.run(["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", *cmd], input=stdin,
                          capture_output=True, text=True, env=env, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"{cmd} failed under valgrind: {proc.stderr[-2000:]}")
    found = re.search(r"^(?:summary|totals): (\d+)", out.read_text(), re.M)
    if not found:
        raise SystemExit(f"no instruction total in {out}")
    return int(found.group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--memories", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=2, help="counted runs per hook (the minimum is reported)")
    parser.add_argument("--baseline", metavar="DIR", help="another checkout, e.g. `git worktree add /tmp/base REV`")
    parser.add_argument("--out", default="bench/results/hook_instructions.json")
    args = parser.parse_args()
    if shutil.which("valgrind") is None:
        raise SystemExit("valgrind is not installed: `apt-get install valgrind`, then run this again")
    trees = {"this": REPO} | ({"baseline": Path(args.baseline).resolve()} if args.baseline else {})
    counts: dict[str, dict[str, list[int]]] = {name: {"capture": [], "recall": []} for name in trees}
    with tempfile.TemporaryDirectory(prefix="nexus-bench-instr-", ignore_cleanup_errors=True) as tmp:
        cwd = Path(tmp) / "proj"
        cwd.mkdir()
        envs = seeded_homes(Path(tmp), trees, cwd, args.memories)
        hook = [sys.executable, "-m", "nexus_memory.cli.entry", "hook", "claude-code"]
        warmups = 2
        for i in range(warmups + args.runs):
            for name in trees:
                env, home = envs[name], Path(envs[name]["NEXUS_HOME"])
                for kind, (event, data) in zip(("capture", "recall"), _payloads(i, cwd).items(), strict=True):
                    if i < warmups:
                        subprocess.run([*hook, event], input=data, capture_output=True, text=True, env=env, check=True)
                    else:
                        counts[name][kind].append(_instructions([*hook, event], data, env,
                                                                Path(tmp) / f"{name}-{kind}-{i}.callgrind"))
                    settle(home)  # the detached worker a hook may start is not counted, nor left running
    result: dict[str, Any] = {
        "machine": f"{platform.node()} {platform.machine()} {os.cpu_count()} cpu, Python {platform.python_version()}",
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "memories": args.memories, "runs": args.runs,
        "trees": {name: str(tree) for name, tree in trees.items()},
        "instructions_millions": {name: {kind: round(min(v) / 1e6, 1) for kind, v in c.items()}
                                  for name, c in counts.items()},
    }
    if args.baseline:
        result["vs_baseline"] = {kind: round(min(counts["this"][kind]) / min(counts["baseline"][kind]), 3)
                                 for kind in ("capture", "recall")}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
