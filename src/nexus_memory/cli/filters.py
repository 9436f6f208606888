"""Shared filter flags (list, search, export) and their translation to MemoryFilter."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from nexus_memory.domain.models import MemoryFilter


def split_csv(values: list[str] | None) -> list[str]:
    out: list[str] = []
    for value in values or []:
        out.extend(v.strip() for v in value.split(",") if v.strip())
    return out


def add_filter_flags(p: argparse.ArgumentParser, *, agent_help: str = "only these agents (repeatable; default all)",
                     search: bool = False) -> None:
    """The filter flags. A search takes episodes (raw hook activity) by default, ranked below the
    memories derived from them (`--no-raw` leaves them out); list and export ask for them."""
    p.add_argument("-a", "--agent", action="append", metavar="NAME", help=agent_help)
    p.add_argument("-g", "--category", action="append", metavar="CAT", help="only these categories")
    p.add_argument("--label", action="append", metavar="LABEL", help="only memories with every given label")
    p.add_argument("--lane", action="append", metavar="LANE", help="only these memory-lane types")
    p.add_argument("--level", action="append", metavar="LEVEL", help="only these cognitive levels")
    p.add_argument("--session", "--session-key", dest="session", metavar="KEY", help="only this session")
    p.add_argument("--since", metavar="WHEN", help="created at or after (ISO date or age like 7d)")
    p.add_argument("--until", metavar="WHEN", help="created at or before (ISO date or age like 1h)")
    if search:
        p.add_argument("--no-raw", dest="include_raw", action="store_false",
                       help="leave out episodes (raw hook activity: tool runs, transcript turns)")
        p.add_argument("--include-raw", dest="include_raw", action="store_true", help=argparse.SUPPRESS)
        p.set_defaults(include_raw=True)
    else:
        p.add_argument("--include-raw", action="store_true",
                       help="include episodes (raw hook activity: tool runs, transcript turns)")
    p.add_argument("--bookkeeping", action="store_true",
                   help="include runtime markers and session boundaries (records of sessions, not memories)")
    p.add_argument("--archived", action="store_true", help="include forgotten (archived) memories")


def filter_from(args: argparse.Namespace) -> MemoryFilter:
    from nexus_memory.domain.agents import validate_agent_name
    from nexus_memory.domain.enums import CognitiveLevel, MemoryCategory, MemoryLaneType
    from nexus_memory.domain.models import MemoryFilter
    from nexus_memory.domain.timeutil import parse_when

    agents = split_csv(getattr(args, "agent", None))
    cats = split_csv(getattr(args, "category", None))
    lanes = split_csv(getattr(args, "lane", None))
    levels = split_csv(getattr(args, "level", None))
    labels = split_csv(getattr(args, "label", None))
    archived = bool(getattr(args, "archived", False))
    return MemoryFilter(
        agents=tuple(validate_agent_name(a) for a in agents) or None,
        categories=tuple(MemoryCategory.parse(c) for c in cats) or None,
        lanes=tuple(MemoryLaneType.parse(x) for x in lanes) or None,
        levels=tuple(CognitiveLevel.parse(x) for x in levels) or None,
        labels=tuple(labels) or None,
        session_key=getattr(args, "session", None) or None,
        since=parse_when(args.since) if getattr(args, "since", None) else None,
        until=parse_when(args.until) if getattr(args, "until", None) else None,
        include_raw=bool(getattr(args, "include_raw", False)) or bool(levels and "raw" in levels),
        include_archived=archived,
        include_inactive=archived,
        include_bookkeeping=bool(getattr(args, "bookkeeping", False)),
    )
