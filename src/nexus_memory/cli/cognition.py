"""Cognition commands: dream, digest, lineage, represent, reflect, derive, distill, jobs, soul, subconscious, llm, eval."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from nexus_memory.app import App
    from nexus_memory.services.cognition_results import DeepDreamResult, DreamCycleResult, LatestDigests, NapResult

T = TypeVar("T")

COMMANDS = ("dream", "digest", "lineage", "represent", "representation", "reflect", "derive", "distill", "jobs", "llm",
            "soul", "subconscious", "eval")


def _agent(p: argparse.ArgumentParser, required: bool = False) -> None:
    p.add_argument("-a", "--agent", required=required, default=None if required else "default",
                   help="agent namespace (default: default)" if not required else "agent namespace")

def register(sub: Any, common: argparse.ArgumentParser) -> None:
    dream = sub.add_parser("dream", help="run the dream cycle: reflect, digest, drain queued jobs")
    dsub = dream.add_subparsers(dest="dream_command", metavar="ACTION")
    p = dsub.add_parser("run", parents=[common], help="enqueue reflect (+ digest for a session) and drain")
    _agent(p)
    p.add_argument("--session-key", help="dream over one session (reflect its perspective, force a digest)")
    p.add_argument("--timeout", type=float, default=None, help="stop claiming jobs after this many seconds")
    p.add_argument("--nap", action="store_true", help="also refresh the project's hot cache and .nexus/context.md")
    p.add_argument("--cwd", help="project folder for --nap (default: the current folder)")
    p.add_argument("--deep", action="store_true",
                   help="deep dream: every namespace, soul.md rebuild, prune old archived raw activity")
    p.add_argument("--force", action="store_true", help="run the deep dream even inside its 24 h cooldown")
    p.set_defaults(handler=cmd_dream_run)
    dream.set_defaults(handler=lambda a: (dream.print_help(), 2)[1])

    digest = sub.add_parser("digest", help="session digests: latest, rebuild")
    gsub = digest.add_subparsers(dest="digest_command", metavar="ACTION")
    p = gsub.add_parser("latest", parents=[common], help="show the latest short and long digest")
    _agent(p)
    p.add_argument("--session-key", help="one session (default: the newest digest of the agent)")
    p.set_defaults(handler=cmd_digest_latest)
    p = gsub.add_parser("rebuild", parents=[common], help="rebuild a session's digests now")
    _agent(p)
    p.add_argument("--session-key", required=True, help="the session to digest")
    p.set_defaults(handler=cmd_digest_rebuild)
    digest.set_defaults(handler=lambda a: (digest.print_help(), 2)[1])

    lineage = sub.add_parser("lineage", help="where a memory came from and what was made of it")
    lsub = lineage.add_subparsers(dest="lineage_command", metavar="ACTION")
    p = lsub.add_parser("show", parents=[common], help="evidence edges and relations of one memory")
    p.add_argument("memory_id", nargs="?", type=int, help="memory id")
    p.add_argument("--memory-id", dest="memory_id_opt", type=int, help="memory id (upstream flag)")
    p.set_defaults(handler=cmd_lineage)
    lineage.set_defaults(handler=lambda a: (lineage.print_help(), 2)[1])

    p = sub.add_parser("represent", aliases=["representation"], parents=[common],
                       help="build the working representation for a query")
    _agent(p)
    p.add_argument("-q", "--query", help="what the agent is working on")
    p.add_argument("--observer", help="perspective observer (default: the agent)")
    p.add_argument("--subject", help="perspective subject (default: the agent)")
    p.add_argument("--session-key", help="perspective session")
    p.add_argument("--max-items", type=int, default=None, help="items in total (default 24)")
    p.add_argument("--include-raw", action="store_true", help="admit raw activity")
    p.add_argument("--explain", action="store_true", help="also list dropped items and why")
    p.set_defaults(handler=cmd_represent)

    p = sub.add_parser("reflect", parents=[common], help="find reinforcement, contradictions and insights now")
    _agent(p)
    p.add_argument("--session-key", help="only pairs touching this session")
    p.add_argument("--limit", type=int, default=1000, help="newest candidates considered (default 1000)")
    p.set_defaults(handler=cmd_reflect)

    p = sub.add_parser("derive", parents=[common], help="derive explicit observations from a raw memory")
    p.add_argument("memory_id", type=int, help="the raw memory")
    p.add_argument("--force", action="store_true", help="derive even from a memory that is not raw activity")
    p.set_defaults(handler=cmd_derive)

    p = sub.add_parser("distill", parents=[common], help="distill a session's raw activity into a summary")
    _agent(p)
    p.add_argument("--session-key", required=True, help="the session")
    p.add_argument("--force", action="store_true", help="distill even below the 8-event minimum")
    p.set_defaults(handler=cmd_distill)

    jobs = sub.add_parser("jobs", help="the cognition job queue: list, retry")
    jsub = jobs.add_subparsers(dest="jobs_command", metavar="ACTION")
    p = jsub.add_parser("list", parents=[common], help="list jobs, newest first")
    p.add_argument("-a", "--agent", help="one agent namespace")
    p.add_argument("--status", help="pending, running, completed or failed")
    p.add_argument("--failed", action="store_true", help="only jobs that failed for good")
    p.add_argument("--type", dest="job_type", help="job type, e.g. digest_session")
    p.add_argument("-l", "--limit", type=int, default=50)
    p.set_defaults(handler=cmd_jobs_list)
    p = jsub.add_parser("retry", parents=[common], help="put a failed job back in the queue")
    p.add_argument("job_id", nargs="?", type=int, help="the failed job")
    p.add_argument("--all-failed", action="store_true", help="retry every failed job")
    p.set_defaults(handler=cmd_jobs_retry)
    jobs.set_defaults(handler=lambda a: (jobs.print_help(), 2)[1])

    soul = sub.add_parser("soul", help="soul.md: durable, global preferences and learnings")
    ssub = soul.add_subparsers(dest="soul_command", metavar="ACTION")
    p = ssub.add_parser("show", parents=[common], help="print soul.md")
    p.set_defaults(handler=cmd_soul_show)
    p = ssub.add_parser("rebuild", parents=[common], help="rebuild soul.md from durable memories (backup kept)")
    p.add_argument("-a", "--agent", action="append", help="only these agents (repeatable; default: all)")
    p.set_defaults(handler=cmd_soul_rebuild)
    soul.set_defaults(handler=lambda a: (soul.print_help(), 2)[1])

    sc = sub.add_parser("subconscious", help="the subconscious layer: hot cache, context.md, soul, monitor")
    scsub = sc.add_subparsers(dest="subconscious_command", metavar="ACTION")
    p = scsub.add_parser("status", parents=[common], help="mode, hot/cold cache, soul, activity monitor, jobs")
    p.add_argument("--cwd", help="project folder (default: the current folder)")
    p.set_defaults(handler=cmd_subconscious_status)
    sc.set_defaults(handler=lambda a: (sc.print_help(), 2)[1])

    p = sub.add_parser("eval", parents=[common],
                       help="score retrieval on the built-in fixture (text-only, hybrid, cognition), and the LLM")
    p.add_argument("--embeddings", choices=("configured", "none"), default="configured",
                   help="use the configured embedding backend (default) or none")
    p.set_defaults(handler=cmd_eval)

    llm = sub.add_parser("llm", help="the optional LLM layer")
    llsub = llm.add_subparsers(dest="llm_command", metavar="ACTION")
    p = llsub.add_parser("test", parents=[common], help="one small call to the configured provider chain")
    p.set_defaults(handler=cmd_llm_test)
    p = llsub.add_parser("status", parents=[common], help="provider, today's tokens, cost and budget")
    p.set_defaults(handler=cmd_llm_status)
    llm.set_defaults(handler=lambda a: (llm.print_help(), 2)[1])


def _with_app(args: argparse.Namespace, fn: Callable[[App], T]) -> T:
    from nexus_memory.cli.context import app_from

    with app_from(args) as app:
        return fn(app)


def cmd_dream_run(args: argparse.Namespace) -> int:
    import os

    from nexus_memory.cli.output import emit_json

    def run(app: App) -> tuple[DreamCycleResult, NapResult | None, DeepDreamResult | None]:
        cycle = app.cognition.dream_cycle(args.agent, args.session_key, timeout_secs=args.timeout)
        nap = app.cognition.nap(args.agent, args.cwd or os.getcwd(), args.session_key) if args.nap else None
        deep = app.cognition.deep_dream(force=args.force) if args.deep else None
        return cycle, nap, deep

    cycle, nap, deep = _with_app(args, run)
    if args.json:
        out = cycle.to_dict()
        if nap is not None:
            out["nap"] = nap.to_dict()
        if deep is not None:
            out["deep_dream"] = deep.to_dict()
        emit_json(out)
    else:
        if nap is not None:
            print(f"Nap: {nap.refresh.hot_entries} hot-cache entries, context written to {nap.refresh.context_path}")
        if deep is not None:
            print("Deep dream: " + ("ran" if deep.ran else f"skipped ({deep.reason})"))
        drain = cycle.drain
        print(f"Dream cycle complete for '{cycle.agent_type}': processed_jobs={drain.processed}"
              + (f" failed={drain.failed}" if drain.failed else "") + (" (timed out)" if drain.timed_out else ""))
        for err in drain.errors[:10]:
            print(f"  error: {err.splitlines()[0]}")
    return 0


def _print_digest(d: LatestDigests) -> None:
    from nexus_memory.cli.output import short

    for kind in ("short", "long"):
        view = d.get(kind)
        if view:
            row = view.row
            print(f"[{kind}] session {row.session_key} · memory #{row.memory_id} · {row.token_count} words")
            print("    " + short(view.content or "", 2000 if kind == "short" else 600))


def cmd_digest_latest(args: argparse.Namespace) -> int:
    from nexus_memory.cli.output import emit_json

    d = _with_app(args, lambda app: app.cognition.latest_digests(args.agent, args.session_key))
    if args.json:
        emit_json(d.to_dict())
    elif not d.short and not d.long:
        print(f"No digests for '{d.agent_type}'" + (f" session {args.session_key}" if args.session_key else "")
              + " yet (run `nexus dream run --session-key KEY`)")
    else:
        _print_digest(d)
    return 0


def cmd_digest_rebuild(args: argparse.Namespace) -> int:
    from nexus_memory.cli.output import emit_json

    r = _with_app(args, lambda app: app.cognition.digest(args.agent, args.session_key, rebuild=True))
    if args.json:
        emit_json(r.to_dict())
    elif r.status == "skipped":
        print(f"Nothing to digest for session {args.session_key}: {r.reason}")
    else:
        print(f"Digest {r.status} for session {args.session_key}: short #{r.short_id}, long #{r.long_id} "
              f"from {r.material} memories")
    return 0


def cmd_lineage(args: argparse.Namespace) -> int:
    from nexus_memory.cli.output import emit_json, short
    from nexus_memory.errors import InvalidInput

    mid = args.memory_id if args.memory_id is not None else args.memory_id_opt
    if mid is None:
        raise InvalidInput("which memory?", hint="nexus lineage show ID")
    lineage = _with_app(args, lambda app: app.cognition.lineage(mid))
    if args.json:
        emit_json(lineage.to_dict())
        return 0
    r = lineage.to_dict()  # the same words as --json
    m = r["memory"]
    print(f"Memory #{m['id']} ({m['cognitive_level']}): {short(m['content'], 200)}")
    print(f"  from ({len(r['sources'])}):")
    for s in r["sources"]:
        print(f"    <- #{s['id']} [{s['role']}] {short(s['content'] or '', 120)}")
    print(f"  into ({len(r['derived'])}):")
    for d in r["derived"]:
        print(f"    -> #{d['id']} [{d['role']}] {short(d['content'] or '', 120)}")
    for rel in r["relations"]:
        print(f"  relation: #{rel['source_memory_id']} {rel['relation_type']} #{rel['target_memory_id']}")
    return 0


def cmd_represent(args: argparse.Namespace) -> int:
    from nexus_memory.cli.output import emit_json, short

    def run(app: App) -> dict[str, Any]:
        rep = app.cognition.represent(args.agent, query=args.query, observer=args.observer, subject=args.subject,
                                      session_key=args.session_key, max_items=args.max_items,
                                      include_raw=args.include_raw or None)
        out: dict[str, Any] = rep.to_dict()
        return out

    r = run_in_app(args, run)
    if args.json:
        emit_json(r)
        return 0
    total = 0
    for bucket in ("digests", "contradictions", "derived", "semantic", "recent"):
        items = r[bucket]
        if not items:
            continue
        print(f"{bucket} ({len(items)}/{r['limits'][bucket]}):")
        for i in items:
            total += 1
            print(f"  {i['score']:.3f} #{i['id']} {short(i['content'], 160)}")
            if args.explain:
                print(f"         {'; '.join(i['reasons'])}")
    if total == 0:
        print("Nothing to show yet: store memories or run `nexus dream run`")
    if args.explain and r["excluded"]:
        print(f"excluded ({len(r['excluded'])}):")
        for e in r["excluded"][:50]:
            print(f"  #{e['id']} from {e['bucket']}: {e['reason']} ({e['detail']})")
    print(f"[{r['semantic_mode']} · {r['took_ms']:.1f} ms]")
    return 0


def run_in_app(args: argparse.Namespace, fn: Callable[[App], T]) -> T:
    return _with_app(args, fn)


def cmd_reflect(args: argparse.Namespace) -> int:
    from nexus_memory.cli.output import emit_json

    r = _with_app(args, lambda app: app.cognition.reflect(args.agent, args.session_key, limit=args.limit))
    if args.json:
        emit_json(r.to_dict())
    else:
        print(f"Reflected over {r.candidates} memories ({r.pairs_compared} pairs compared): "
              f"{len(r.reinforcements)} reinforcement(s), {len(r.contradictions)} contradiction(s), "
              f"{len(r.insights)} insight(s), {len(r.superseded)} statement(s) superseded")
    return 0


def cmd_derive(args: argparse.Namespace) -> int:
    from nexus_memory.cli.output import emit_json

    r = _with_app(args, lambda app: app.cognition.derive(args.memory_id, force=args.force))
    if args.json:
        emit_json(r.to_dict())
    elif r.status == "skipped":
        print(f"Nothing derived from #{args.memory_id}: {r.reason} (use --force for any memory)")
    else:
        ids = ", ".join(f"#{i}" for i in r.derived_ids)
        print(f"{'Derived' if r.status == 'derived' else 'Already derived'} from #{args.memory_id}: {ids}")
    return 0


def cmd_distill(args: argparse.Namespace) -> int:
    from nexus_memory.cli.output import emit_json

    r = _with_app(args, lambda app: app.cognition.distill(args.agent, args.session_key, force=args.force))
    if args.json:
        emit_json(r.to_dict())
    elif r.status == "skipped":
        print(f"Nothing distilled for session {args.session_key}: {r.reason}")
    else:
        print(f"Distilled {len(r.sources)} raw events of session {args.session_key} into #{r.summary_id} "
              "(sources archived)")
    return 0


def cmd_jobs_list(args: argparse.Namespace) -> int:
    from nexus_memory.cli.output import emit_json

    status = "failed" if args.failed else args.status

    def run(app: App) -> tuple[list[Any], dict[str, int]]:
        return (app.cognition.jobs(status=status, agent=args.agent, job_type=args.job_type, limit=args.limit),
                app.cognition.job_counts(args.agent))

    jobs, counts = _with_app(args, run)
    if args.json:
        emit_json({"jobs": [j.to_dict() for j in jobs], "counts": counts})
        return 0
    for j in jobs:
        err = f"  last error: {j.last_error.splitlines()[0][:160]}" if j.last_error else ""
        print(f"#{j.id} {j.job_type} {j.status.value} attempts={j.attempts} priority={j.priority} "
              f"payload={j.payload}{err}")
    print(", ".join(f"{k}={v}" for k, v in counts.items()))
    if status == "failed" and jobs:
        print("Retry with `nexus jobs retry ID` or `nexus jobs retry --all-failed`")
    return 0


def cmd_jobs_retry(args: argparse.Namespace) -> int:
    from nexus_memory.cli.output import emit_json

    jobs = _with_app(args, lambda app: app.cognition.retry(args.job_id, all_failed=args.all_failed))
    if args.json:
        emit_json([j.to_dict() for j in jobs])
    else:
        print(f"{len(jobs)} job(s) back in the queue" + (f": {', '.join(f'#{j.id}' for j in jobs)}" if jobs else ""))
    return 0


def cmd_soul_show(args: argparse.Namespace) -> int:
    from nexus_memory.cli.output import emit_json

    r = _with_app(args, lambda app: app.cognition.soul())
    if args.json:
        emit_json(r.to_dict())
    elif r.content is None:
        print(f"No soul.md yet at {r.path} (build one with `nexus soul rebuild`)")
    else:
        print(r.content, end="")
    return 0


def cmd_soul_rebuild(args: argparse.Namespace) -> int:
    from nexus_memory.cli.output import emit_json

    r = _with_app(args, lambda app: app.cognition.rebuild_soul(args.agent))
    if args.json:
        emit_json(r.to_dict())
    elif r.written:
        print(f"soul.md rebuilt from {r.candidates} durable memories (~{r.tokens} tokens): {r.path}")
    else:
        print(f"soul.md not changed: {r.reason}")
    return 0


def cmd_subconscious_status(args: argparse.Namespace) -> int:
    import os

    from nexus_memory.cli.output import emit_json

    status = _with_app(args, lambda app: app.cognition.subconscious_status(args.cwd or os.getcwd(),
                                                                            app.settings.subconscious_mode))
    r = status.to_dict()  # the text below says what --json says
    if args.json:
        emit_json(r)
        return 0
    print(f"Mode: {r['mode']}")
    proj = r["project"]
    if proj:
        tiers = ", ".join(f"{k}={v}" for k, v in sorted(proj["tiers"].items())) or "-"
        print(f"Project: {proj['project_root']}: {proj['hot_entries']} hot ({tiers}), {proj['cold_entries']} cold, "
              f"last updated {proj['last_updated'] or 'never'}")
    soul = r["soul"]
    print(f"Soul: {soul['bytes']} bytes at {soul['path']}" if soul["exists"] else "Soul: not yet generated")
    mon = r["monitor"]
    if mon:
        print(f"Activity: {mon['activity_log']} slots in 7 days, sleep hour {mon['detected_sleep_hour']}, "
              f"last deep dream {mon['last_deep_dream'] or 'never'}, deep dream due: {mon['should_deep_dream']}")
    print("Jobs: " + ", ".join(f"{k}={v}" for k, v in r["jobs"].items()))
    print(r["llm"])
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    """Runs in a throwaway NEXUS_HOME (removed afterwards); your database is never touched."""
    import os
    import tempfile

    from nexus_memory.app import build_app
    from nexus_memory.cli.context import settings_from
    from nexus_memory.cli.output import emit_json
    from nexus_memory.config import load_settings
    from nexus_memory.domain.timeutil import utcnow
    from nexus_memory.services import evaluation

    base = settings_from(args)
    with tempfile.TemporaryDirectory(prefix="nexus-eval-") as tmp:
        env = {k: v for k, v in os.environ.items() if k not in ("NEXUS_DATABASE_URL", "NEXUS_DATABASE_PATH")}
        env.update({"NEXUS_HOME": tmp, "NEXUS_LLM_DAILY_TOKEN_BUDGET": str(base.llm_daily_token_budget)})
        if args.embeddings == "none":
            env["NEXUS_EMBEDDING_BACKEND"] = "none"
        with build_app(load_settings(env)) as app:
            report = evaluation.evaluate(app, utcnow())
            report["llm"] = app.cognition.llm_test().to_dict() if app.cognition.llm is not None else None
    cog = next(m for m in report["modes"] if m["mode"] == "cognition")
    score = round(100 * (cog["recall"] + cog["precision"] + cog["contradiction_surfacing"]) / 3)
    report["score"] = score
    report["verdict"] = ("GOOD" if score >= 80 else "ACCEPTABLE" if score >= 60 else "WEAK" if score >= 40
                         else "POOR")
    if args.json:
        emit_json(report)
        return 0
    print(evaluation.render(report))
    llm = report["llm"]
    if llm is None:
        print("LLM: none configured (scored on the built-in fixture with deterministic stages)")
    else:
        print(f"LLM instruction following: {'PASS' if llm['ok'] and llm.get('answer') == {'color': 'blue', 'number': 42} else 'FAIL'}"
              + (f" ({llm['provider']}/{llm['model']})" if llm.get("provider") else f" ({llm.get('error')})"))
    print(f"Cognition score: {score}/100 ({report['verdict']})")
    return 0


def cmd_llm_status(args: argparse.Namespace) -> int:
    from nexus_memory.cli.output import emit_json

    r = _with_app(args, lambda app: app.cognition.llm_status())
    if args.json:
        emit_json(r.to_dict())
    else:
        print(r.summary)
    return 0


def cmd_llm_test(args: argparse.Namespace) -> int:
    from nexus_memory.cli.output import emit_json

    r = _with_app(args, lambda app: app.cognition.llm_test())
    if args.json:
        emit_json(r.to_dict())
    elif r.ok:
        print(f"LLM ok: {r.provider}/{r.model} answered in {r.latency_ms or 0:.0f} ms ({r.tokens} tokens)")
    else:
        from nexus_memory.errors import NotAvailable

        raise NotAvailable(f"LLM test failed: {r.error}", hint=r.hint or "check NEXUS_LLM_* settings")
    return 0
