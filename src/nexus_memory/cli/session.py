"""nexus session start|event|end|status|sweep (upstream reference 6)."""

from __future__ import annotations

import argparse
from typing import Any

COMMANDS = ("session",)


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    session = sub.add_parser("session", help="session runtime: start, event, end, status, sweep")
    ssub = session.add_subparsers(dest="session_command", metavar="ACTION")

    def _who(p: argparse.ArgumentParser) -> None:
        p.add_argument("-a", "--agent", required=True, help="agent tool, e.g. claude-code, gemini, codex")
        p.add_argument("--session-key", help="the tool's session id (default: derived from agent and cwd)")
        p.add_argument("--cwd", help="working directory of the session")

    p = ssub.add_parser("start", parents=[common], help="start or refresh a session runtime")
    _who(p)
    p.add_argument("--mode", default="session", help="session (default; expires after idle) or persistent")
    p.set_defaults(handler=cmd_start)

    p = ssub.add_parser("event", parents=[common], help="record a lifecycle event inside a session")
    _who(p)
    p.add_argument("--kind", required=True, help="compact, checkpoint, completion, error, ...")
    p.add_argument("--detail", default="", help="free text stored with the event")
    p.set_defaults(handler=cmd_event)

    p = ssub.add_parser("end", parents=[common], help="finish a session: marker, background work, state removed")
    _who(p)
    p.add_argument("--reason", default="session-ended", help="session-ended (default), idle-timeout or manual")
    p.set_defaults(handler=cmd_end)

    p = ssub.add_parser("status", parents=[common], help="list live session runtimes")
    p.set_defaults(handler=cmd_status)

    p = ssub.add_parser("sweep", parents=[common], help="end sessions idle past the timeout (900 s)")
    p.set_defaults(handler=cmd_sweep)

    session.set_defaults(handler=lambda a: (session.print_help(), 2)[1])


def _warn(warnings: list[str]) -> None:
    import sys

    for w in warnings:
        sys.stderr.write(f"nexus: warning: {w}\n")


def cmd_start(args: argparse.Namespace) -> int:
    from nexus_memory.cli.context import app_from
    from nexus_memory.cli.output import emit_json
    from nexus_memory.domain.enums import RuntimeMode

    mode = RuntimeMode.from_cli(args.mode)
    with app_from(args) as app:
        r = app.sessions.start(args.agent, args.session_key, args.cwd, mode)
    _warn(r.warnings)
    if args.json:
        emit_json({"agent_type": r.state.agent_type, "session_key": r.state.session_key,
                   "mode": r.state.mode.value, "created": r.created, "restarted": r.restarted,
                   "state_file": str(r.path), "marker_id": r.marker.id if r.marker else None})
    else:
        print(f"Session runtime ready for {r.state.agent_type} ({r.state.session_key})")
    return 0


def cmd_event(args: argparse.Namespace) -> int:
    from nexus_memory.cli.context import app_from
    from nexus_memory.cli.output import emit_json

    with app_from(args) as app:
        m = app.sessions.event(args.agent, args.session_key, args.cwd, args.kind, args.detail)
    if args.json:
        emit_json({"memory_id": m.id, "agent_type": m.agent, "kind": args.kind})
    else:
        print(f"Session event recorded for {m.agent}: {args.kind}")
    return 0


def cmd_end(args: argparse.Namespace) -> int:
    from nexus_memory.cli.context import app_from
    from nexus_memory.cli.output import emit_json
    from nexus_memory.domain.enums import RuntimeShutdownReason

    reason = RuntimeShutdownReason.from_label(args.reason)
    with app_from(args) as app:
        r = app.sessions.end(args.agent, args.session_key, args.cwd, reason)
    _warn(r.warnings)
    if args.json:
        emit_json({"agent_type": r.agent_type, "session_key": r.session_key, "reason": r.reason.label,
                   "state_removed": r.state_removed, "marker_id": r.marker.id if r.marker else None})
    else:
        print(f"Session finalized for {r.agent_type} ({r.session_key})")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    from nexus_memory.cli.context import app_from
    from nexus_memory.cli.output import emit_json
    from nexus_memory.domain.timeutil import to_iso

    warnings: list[str] = []
    with app_from(args) as app:
        sessions = app.sessions.status(warnings)
    _warn(warnings)
    if args.json:
        emit_json([{"agent_type": s.state.agent_type, "session_key": s.state.session_key,
                    "mode": s.state.mode.value, "started_at": to_iso(s.state.started_at),
                    "updated_at": to_iso(s.state.updated_at), "idle_secs": round(s.idle_secs, 1),
                    "expired": s.expired, "state_file": str(s.path)} for s in sessions])
        return 0
    if not sessions:
        print("No live sessions.")
        return 0
    for s in sessions:
        flag = " (idle past timeout)" if s.expired else ""
        print(f"{s.state.agent_type}  {s.state.session_key}  {s.state.mode.value}  idle {int(s.idle_secs)}s{flag}")
    print(f"Active sessions: {len(sessions)}")
    return 0


def cmd_sweep(args: argparse.Namespace) -> int:
    from nexus_memory.cli.context import app_from
    from nexus_memory.cli.output import emit_json

    warnings: list[str] = []
    with app_from(args) as app:
        results = app.sessions.sweep(warnings)
    _warn(warnings)
    if args.json:
        emit_json([{"agent_type": r.agent_type, "session_key": r.session_key, "reason": r.reason.label}
                   for r in results])
    else:
        for r in results:
            print(f"Ended idle session {r.agent_type} ({r.session_key})")
        print(f"{len(results)} idle session(s) ended")
    return 0
