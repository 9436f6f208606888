"""The memory loop, end to end (issue 12): `make bench-loop` or `python -m bench.loop`.

What an agent saw, found or was told in one session must come back, when relevant, in the next,
and noise must not. This replays whole multi-session conversations through the real `nexus hook`
entry point (a fresh process per event, stdin payloads in each tool's documented shape, transcript
files in each tool's own format: bench/loop_agents.py), then asks each probe in a fresh session and
reads what the hooks inject: the session-start pack and the per-prompt recall.

Sources:
- coding: bench/data/coding_scenarios.json (facts in tool output, assistant findings, user rules,
  error -> fix, decisions revised later, paraphrased probes, unanswerable probes), each among
  `--noise` everyday sessions of its project (bench/loop_noise.py), replayed once per agent format
  (claude-code, gemini, codex), all scenarios of one agent in one store (one project folder, a git
  repository, per project); `--extra-probes bench/data/paraphrase_probes.json` adds paraphrases that
  share no content word with what their scenario stored and unanswerable probes phrased near stored
  facts (summarised per probe file under `groups`);
- locomo: ../shared/data/locomo/locomo-dev.json (evaluation only, never shipped). One store per
  conversation; each LoCoMo session is one agent session, speaker A's turns are the user's prompts
  and speaker B's the assistant's final messages, verbatim (`--speaker-names` prefixes each with the
  speaker's name, as bench/locomo_retrieval.py stores turns); questions of categories 1-4 are the
  probes.

Metrics (macro over probes):
- evidence recall: share of a probe's evidence found in the injected context (pack + prompt recall).
  Coding: each `expect` string, matched case-insensitively as a whole word. LoCoMo: each evidence
  turn, found when 8 consecutive words of it (all of it, if shorter) appear in one injected item;
- the same for prompt recall alone and for the pack alone;
- injected tokens per session start and per prompt (bytes/4, the estimator the hooks use);
- precision: injected prompt-recall items that hold evidence, over all injected prompt-recall items;
- stale: prompt-recall items holding a superseded value and not the current one (revision probes);
- false recall: unanswerable probes that got any prompt recall;
- hook latency per kind (capture, prompt, session start), fresh processes, p50/p95.
With `--serve`, a `nexus serve` runs beside each store (its worker embeds what the hooks store; the
probes start once it has caught up), so prompt recall is hybrid; without it, the hooks are alone.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.hook_latency import settle
from bench.loop_agents import FORMATS, AgentFormat, SessionState, new_session
from bench.loop_noise import noise_sessions

REPO = Path(__file__).resolve().parents[1]
CODING = REPO / "bench" / "data" / "coding_scenarios.json"
LOCOMO = REPO.parent / "shared" / "data" / "locomo" / "locomo-dev.json"
CAPTURE_EVENTS = {"PostToolUse", "PostToolUseFailure", "AfterTool", "Stop", "AfterAgent", "PreToolUse", "BeforeTool"}
PROMPT_EVENTS = {"UserPromptSubmit", "BeforeAgent"}
_WORD = re.compile(r"[a-z0-9]+(?:['’][a-z]+)?")


# ------------------------------------------------------------------------------------ data
@dataclass
class Probe:
    q: str
    kind: str
    expect: list[str] = field(default_factory=list)  # coding: strings that must come back
    evidence: list[str] = field(default_factory=list)  # locomo: turn texts that must come back
    stale: list[str] = field(default_factory=list)
    group: str = "base"  # the probe file it came from: `base`, or the stem of an --extra-probes file

    @property
    def answerable(self) -> bool:
        return self.kind != "unanswerable"

    def units(self) -> list[str]:
        return self.expect or self.evidence


@dataclass
class Scenario:
    id: str
    project: str
    sessions: list[list[dict[str, Any]]]
    probes: list[Probe]


def _probe(p: dict[str, Any], group: str) -> Probe:
    return Probe(p["q"], p.get("kind", "fact"), expect=list(p.get("expect") or []), stale=list(p.get("stale") or []),
                 group=group)


def load_coding(path: Path = CODING, noise: int = 0, extra_probes: tuple[Path, ...] = ()) -> list[Scenario]:
    """The scenarios; with `noise`, each project's sessions sit among that many everyday ones
    (half before, half after), so the answer is neither alone nor always the newest. Each
    `extra_probes` file adds probes to named scenarios (bench/data/paraphrase_probes.json)."""
    data = json.loads(path.read_text("utf-8"))
    more: dict[str, list[Probe]] = {}
    for extra_path in extra_probes:
        for p in json.loads(extra_path.read_text("utf-8"))["probes"]:
            more.setdefault(p["scenario"], []).append(_probe(p, extra_path.stem))
    unknown = set(more) - {s["id"] for s in data["scenarios"]}
    if unknown:
        raise SystemExit(f"extra probes name unknown scenarios: {', '.join(sorted(unknown))}")
    out = []
    for s in data["scenarios"]:
        extra = noise_sessions(f"{s['project']}:{s['id']}", noise)
        sessions = extra[: noise // 2] + s["sessions"] + extra[noise // 2:]
        out.append(Scenario(s["id"], s["project"], sessions,
                            [_probe(p, "base") for p in s["probes"]] + more.get(s["id"], [])))
    return out


def load_locomo(path: Path, conversations: set[str] | None, speaker_names: bool) -> list[Scenario]:
    if not path.is_file():
        raise SystemExit(f"the LoCoMo file {path} does not exist (pass --locomo PATH)")
    out = []
    for sample in json.loads(path.read_text("utf-8")):
        sid = str(sample.get("sample_id"))
        if conversations and sid not in conversations:
            continue
        conv = sample["conversation"]
        user = conv.get("speaker_a")
        nums = sorted(int(m.group(1)) for k in conv if (m := re.fullmatch(r"session_(\d+)", k)))
        sessions, texts = [], {}
        for n in nums:
            steps = []
            for t in conv.get(f"session_{n}") or []:
                text = str(t.get("text") or "")
                if t.get("blip_caption"):
                    text = f"{text} [shares a photo: {t['blip_caption']}]".strip()
                if not text:
                    continue
                said = f"{t.get('speaker')}: {text}" if speaker_names else text
                texts[str(t.get("dia_id")).strip()] = text
                steps.append({"user": said} if t.get("speaker") == user else {"assistant": said})
            if steps:
                sessions.append(steps)
        probes = []
        for qa in sample.get("qa") or []:
            if int(qa.get("category") or 0) not in (1, 2, 3, 4):
                continue
            ids = {p.strip() for item in (qa.get("evidence") or []) for p in re.split(r"[;,\s]+", str(item))}
            ev = [texts[i] for i in sorted(ids) if i in texts]
            if ev:
                probes.append(Probe(str(qa["question"]), f"locomo-{qa['category']}", evidence=ev))
        out.append(Scenario(sid, f"locomo-{sid}", sessions, probes))
    return out


# ------------------------------------------------------------------------------------ matching
def words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def items_of(context: str) -> list[str]:
    """The memories an injected block holds: one per `- ` line (continuation lines join it)."""
    items: list[str] = []
    for line in context.splitlines():
        if line.startswith("- "):
            items.append(line[2:])
        elif items and line.startswith("  "):
            items[-1] += " " + line.strip()
    return items


def has_expect(text: str, needle: str) -> bool:
    return re.search(r"(?<![\w.-])" + re.escape(needle.lower()) + r"(?![\w]|-\w)", text.lower()) is not None


def has_turn(item_words: list[str], turn: str, window: int = 8) -> bool:
    tw = words(turn)
    if not tw:
        return False
    n = min(window, len(tw))
    hay = " " + " ".join(item_words) + " "
    return any(" " + " ".join(tw[i:i + n]) + " " in hay for i in range(len(tw) - n + 1))


def found(probe: Probe, items: list[str]) -> list[bool]:
    if probe.expect:
        blob = "\n".join(items)
        return [has_expect(blob, e) for e in probe.expect]
    iw = [words(i) for i in items]
    return [any(has_turn(w, turn) for w in iw) for turn in probe.evidence]


def item_hits(probe: Probe, item: str) -> bool:
    if probe.expect:
        return any(has_expect(item, e) for e in probe.expect)
    iw = words(item)
    return any(has_turn(iw, t) for t in probe.evidence)


# ------------------------------------------------------------------------------------ running
class World:
    """One store (NEXUS_HOME), its project folders, optionally a `nexus serve`, and the hook runner."""

    def __init__(self, root: Path, name: str, agent: AgentFormat, serve: bool,
                 env: dict[str, str] | None = None) -> None:
        self.root = root / name
        self.home = self.root / "home"
        self.projects = self.root / "projects"
        self.agent = agent
        self.nexus = str(Path(sys.executable).with_name("nexus"))
        self.port = _free_port()
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("NEXUS_") and k != "PYTHONDONTWRITEBYTECODE"}
        self.env.update({"NEXUS_HOME": str(self.home), "HOME": str(self.home), "NEXUS_PORT": str(self.port)})
        self.env.update(env or {})
        self.serve = serve
        self.server: subprocess.Popen[bytes] | None = None
        self.latency: dict[str, list[float]] = {"capture": [], "prompt": [], "session_start": [], "other": []}
        self.errors = 0

    def project(self, name: str) -> str:
        path = self.projects / name
        if not path.is_dir():
            path.mkdir(parents=True)
            subprocess.run(["git", "init", "-q", str(path)], check=True)
        return str(path)

    def fire(self, event: str, payload: dict[str, Any], cwd: str) -> str:
        t0 = time.perf_counter()
        proc = subprocess.run([self.nexus, "hook", self.agent.name, event], input=json.dumps(payload), cwd=cwd,
                              env=self.env, capture_output=True, text=True, timeout=60)
        ms = (time.perf_counter() - t0) * 1000
        kind = ("prompt" if event in PROMPT_EVENTS else "session_start" if event == "SessionStart"
                else "capture" if event in CAPTURE_EVENTS else "other")
        self.latency[kind].append(ms)
        if proc.returncode != 0 or proc.stderr.strip():
            self.errors += 1
            print(f"[{self.root.name}] hook {event} rc={proc.returncode}: {proc.stderr.strip()[:300]}", file=sys.stderr)
        return proc.stdout

    def settle(self, timeout: float = 120.0) -> None:
        """Wait until the detached hook worker has stored everything (a real next session comes later)."""
        settle(self.home, timeout)

    @contextlib.contextmanager
    def running(self) -> Iterator[None]:
        if not self.serve:
            yield
            return
        self.home.mkdir(parents=True, exist_ok=True)
        log = (self.root / "serve.log").open("wb")
        self.server = subprocess.Popen([self.nexus, "serve", "--port", str(self.port)], env=self.env,
                                       stdout=log, stderr=subprocess.STDOUT)
        try:
            _wait_http(self.port, 60)
            yield
        finally:
            self.server.terminate()
            try:
                self.server.wait(20)
            except subprocess.TimeoutExpired:
                self.server.kill()
            log.close()

    def wait_vectors(self, timeout: float = 600.0) -> int | None:
        """With a server: wait until its worker has embedded what the hooks stored."""
        deadline = time.monotonic() + timeout
        missing: int | None = None
        while time.monotonic() < deadline:
            proc = subprocess.run([self.nexus, "embeddings", "status", "--json"], env=self.env,
                                  capture_output=True, text=True, timeout=120)
            try:
                missing = int(json.loads(proc.stdout).get("missing") or 0)
            except (ValueError, TypeError, AttributeError):
                return None
            if missing == 0:
                return 0
            time.sleep(2)
        return missing

    def pending_jobs(self) -> int | None:
        """Cognition jobs still queued (distillation, digests): what the probes' packs cannot show yet."""
        proc = subprocess.run([self.nexus, "jobs", "list", "--status", "pending", "--limit", "1", "--json"],
                              env=self.env, capture_output=True, text=True, timeout=120)
        try:
            counts = json.loads(proc.stdout)["counts"]
            return int(counts.get("pending", 0)) + int(counts.get("running", 0))
        except (ValueError, TypeError, KeyError):
            return None

    def replay(self, scenario: Scenario) -> None:
        cwd = self.project(scenario.project)
        for steps in scenario.sessions:
            s = new_session(self.agent, self.home, cwd)
            for event, payload in self.agent.start(s):
                self.fire(event, payload, cwd)
            for step in steps:
                for event, payload in self._events(s, step):
                    self.fire(event, payload, cwd)
            for event, payload in self.agent.end(s):
                self.fire(event, payload, cwd)
            self.settle()

    def _events(self, s: SessionState, step: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
        if "user" in step:
            return self.agent.prompt(s, step["user"])
        if "assistant" in step:
            return self.agent.stop(s, step["assistant"])
        if "note" in step:
            self.agent.note(s, step["note"])
            return []
        return self.agent.tool(s, step)

    def ask(self, scenario: Scenario, probe: Probe) -> dict[str, Any]:
        cwd = self.project(scenario.project)
        s = new_session(self.agent, self.home, cwd, session_id=f"probe-{uuid.uuid4().hex[:12]}")
        pack = "".join(self.agent.extract_context(self.fire(e, p, cwd)) for e, p in self.agent.start(s))
        recall = "".join(self.agent.extract_context(self.fire(e, p, cwd)) for e, p in self.agent.prompt(s, probe.q))
        for event, payload in self.agent.end(s):
            self.fire(event, payload, cwd)
        self.settle()
        pack_items, recall_items = items_of(pack), items_of(recall)
        units = probe.units()
        both = found(probe, pack_items + recall_items) if units else []
        in_recall = found(probe, recall_items) if units else []
        in_pack = found(probe, pack_items) if units else []
        stale = [i for i in recall_items if probe.stale and any(has_expect(i, x) for x in probe.stale)
                 and not any(has_expect(i, x) for x in probe.expect)]
        return {
            "scenario": scenario.id, "q": probe.q, "kind": probe.kind, "group": probe.group,
            "answerable": probe.answerable,
            "recall": sum(both) / len(both) if both else None,
            "recall_prompt": sum(in_recall) / len(in_recall) if in_recall else None,
            "recall_pack": sum(in_pack) / len(in_pack) if in_pack else None,
            "pack_tokens": _tokens(pack), "prompt_tokens": _tokens(recall),
            "recall_items": len(recall_items),
            "recall_items_with_evidence": sum(item_hits(probe, i) for i in recall_items) if units else 0,
            "stale_items": len(stale), "prompt_context": recall, "pack_context": pack,
        }


def _tokens(text: str) -> int:
    return (len(text.encode("utf-8")) + 3) // 4 if text else 0


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_http(port: int, timeout: float) -> None:
    import socket

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
            return
        time.sleep(0.2)
    raise SystemExit(f"nexus serve did not listen on port {port} within {timeout:.0f} s")


def run_world(root: Path, name: str, agent: str, scenarios: list[Scenario], serve: bool,
              max_probes: int | None, env: dict[str, str] | None = None) -> dict[str, Any]:
    world = World(root, name, FORMATS[agent](), serve, env)
    t0 = time.monotonic()
    with world.running():
        for sc in scenarios:
            world.replay(sc)
        replay_secs = time.monotonic() - t0
        missing = world.wait_vectors() if serve else None
        pending = world.pending_jobs()
        if pending:
            print(f"[{name}] {pending} cognition job(s) still queued when the probes start (a loaded machine: "
                  "the session-end drain stops after its timeout; the packs miss what they would distill)",
                  file=sys.stderr)
        results = []
        for sc in scenarios:
            probes = sc.probes if max_probes is None else _spread(sc.probes, max_probes)
            for probe in probes:
                results.append(world.ask(sc, probe))
    return {"world": name, "agent": agent, "replay_secs": round(replay_secs, 1),
            "probe_secs": round(time.monotonic() - t0 - replay_secs, 1), "vectors_missing": missing,
            "jobs_pending_at_probes": pending,
            "hook_errors": world.errors, "latency": world.latency, "results": results}


def _spread(items: list[Probe], n: int) -> list[Probe]:
    if len(items) <= n:
        return items
    step = len(items) / n
    return [items[int(i * step)] for i in range(n)]


# ------------------------------------------------------------------------------------ report
def pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))], 1)


def mean(values: list[float]) -> float | None:
    return round(statistics.fmean(values), 3) if values else None


def summarize(results: list[dict[str, Any]]) -> dict[str, Any]:
    out = _summary(results)
    groups = sorted({r.get("group", "base") for r in results})
    if len(groups) > 1:
        out["groups"] = {g: _summary([r for r in results if r.get("group", "base") == g]) for g in groups}
    return out


def _summary(results: list[dict[str, Any]]) -> dict[str, Any]:
    ans = [r for r in results if r["answerable"]]
    unans = [r for r in results if not r["answerable"]]
    items = sum(r["recall_items"] for r in ans)
    kinds: dict[str, list[float]] = {}
    for r in ans:
        kinds.setdefault(r["kind"], []).append(r["recall"])
    return {
        "probes": len(results), "answerable": len(ans), "unanswerable": len(unans),
        "evidence_recall": mean([r["recall"] for r in ans]),
        "recall_prompt_only": mean([r["recall_prompt"] for r in ans]),
        "recall_pack_only": mean([r["recall_pack"] for r in ans]),
        "all_evidence_found": mean([1.0 if r["recall"] == 1.0 else 0.0 for r in ans]),
        "by_kind": {k: mean(v) for k, v in sorted(kinds.items())},
        "precision_prompt": round(sum(r["recall_items_with_evidence"] for r in ans) / items, 3) if items else None,
        "prompt_recall_fired": mean([1.0 if r["prompt_tokens"] else 0.0 for r in ans]),
        "false_recall_unanswerable": mean([1.0 if r["prompt_tokens"] else 0.0 for r in unans]),
        "stale_items": sum(r["stale_items"] for r in results),
        "pack_tokens_mean": mean([r["pack_tokens"] for r in results]),
        "pack_tokens_max": max((r["pack_tokens"] for r in results), default=0),
        "prompt_tokens_mean": mean([r["prompt_tokens"] for r in results]),
        "prompt_tokens_max": max((r["prompt_tokens"] for r in results), default=0),
    }


def latency(worlds: list[dict[str, Any]]) -> dict[str, Any]:
    out = {}
    for kind in ("capture", "prompt", "session_start"):
        vals = [v for w in worlds for v in w["latency"][kind]]
        out[kind] = {"n": len(vals), "p50": pct(vals, 50), "p95": pct(vals, 95)}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--source", choices=("coding", "locomo", "both"), default="both")
    ap.add_argument("--agents", default="claude-code,gemini,codex", help="agent formats for the coding set")
    ap.add_argument("--noise", type=int, default=8, help="everyday sessions around each coding scenario")
    ap.add_argument("--scenarios", type=Path, default=CODING,
                    help="the coding scenario file (bench/data/coding_holdout.json: a second set, not tuned on)")
    ap.add_argument("--extra-probes", type=Path, action="append", default=[],
                    help="a file of more coding probes, by scenario (e.g. bench/data/paraphrase_probes.json)")
    ap.add_argument("--locomo", type=Path, default=LOCOMO, help="LoCoMo JSON file")
    ap.add_argument("--locomo-agent", default="claude-code", choices=sorted(FORMATS))
    ap.add_argument("--conversations", default="", help="comma-separated LoCoMo sample ids (default: all)")
    ap.add_argument("--questions", type=int, default=None, help="at most N probes per LoCoMo conversation")
    ap.add_argument("--speaker-names", action="store_true", help="replay LoCoMo turns as 'Name: text'")
    ap.add_argument("--serve", action="store_true", help="run `nexus serve` beside each store")
    ap.add_argument("--env", action="append", default=[], metavar="NAME=VALUE",
                    help="a setting for every hook and server, e.g. NEXUS_RECALL_EXPANSION=false")
    ap.add_argument("--jobs", type=int, default=2, help="stores replayed side by side")
    ap.add_argument("--keep", action="store_true", help="keep the stores (printed) for inspection")
    ap.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "loop.json")
    args = ap.parse_args()

    plan: list[tuple[str, str, list[Scenario], int | None]] = []
    if args.source in ("coding", "both"):
        coding = load_coding(args.scenarios, noise=args.noise, extra_probes=tuple(args.extra_probes))
        for agent in [a.strip() for a in args.agents.split(",") if a.strip()]:
            if agent not in FORMATS:
                raise SystemExit(f"unknown agent format {agent!r} (use {', '.join(FORMATS)})")
            plan.append((f"coding-{agent}", agent, coding, None))
    if args.source in ("locomo", "both"):
        wanted = {c.strip() for c in args.conversations.split(",") if c.strip()} or None
        for sc in load_locomo(args.locomo, wanted, args.speaker_names):
            plan.append((f"locomo-{sc.id}", args.locomo_agent, [sc], args.questions))
    env = dict(item.split("=", 1) for item in args.env if "=" in item)
    root = Path(tempfile.mkdtemp(prefix="nexus-bench-loop-"))
    t0 = time.monotonic()
    try:
        with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
            worlds = list(pool.map(lambda p: run_world(root, p[0], p[1], p[2], args.serve, p[3], env), plan))
    finally:
        if args.keep:
            print(f"stores kept under {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)
    report: dict[str, Any] = {
        "machine": f"{platform.node()} {platform.machine()} {os.cpu_count()} cpu, Python {platform.python_version()}",
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "serve": args.serve, "env": env,
        "load_average_1m": round(os.getloadavg()[0], 2), "wall_secs": round(time.monotonic() - t0, 1),
        "sets": {},
    }
    for label, prefix in (("coding", "coding-"), ("locomo", "locomo-")):
        group = [w for w in worlds if w["world"].startswith(prefix)]
        if not group:
            continue
        entry = summarize([r for w in group for r in w["results"]])
        entry["latency_ms"] = latency(group)
        entry["hook_errors"] = sum(w["hook_errors"] for w in group)
        entry["per_world"] = {w["world"]: {**summarize(w["results"]), "replay_secs": w["replay_secs"],
                                           "probe_secs": w["probe_secs"], "vectors_missing": w["vectors_missing"],
                                           "jobs_pending_at_probes": w.get("jobs_pending_at_probes")}
                              for w in group}
        report["sets"][label] = entry
    args.out.parent.mkdir(parents=True, exist_ok=True)
    detail = args.out.with_name(args.out.stem + "-probes.json")
    detail.write_text(json.dumps([{**r, "world": w["world"]} for w in worlds for r in w["results"]], indent=1),
                      encoding="utf-8")
    args.out.write_text(json.dumps(report, indent=2), encoding="utf-8")
    for label, entry in report["sets"].items():
        brief = {k: v for k, v in entry.items() if k != "per_world"}
        print(f"== {label} ({'with nexus serve' if args.serve else 'hooks alone'})")
        print(json.dumps(brief, indent=1))
    print(f"written: {args.out} and {detail}")


if __name__ == "__main__":
    main()
