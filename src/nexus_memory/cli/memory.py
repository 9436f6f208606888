"""store, search, list, get, forget, delete, stats."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from nexus_memory.cli.filters import add_filter_flags, filter_from, split_csv

COMMANDS = ("store", "search", "list", "get", "forget", "delete", "stats")


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("store", parents=[common], help="store a memory",
                       description="Store one memory. Content comes from --content or standard input.")
    p.add_argument("-m", "--content", help="the text to remember (default: read standard input)")
    p.add_argument("-a", "--agent", help="agent namespace (default: NEXUS_DEFAULT_AGENT or 'default')")
    p.add_argument("-g", "--category", default="general",
                   help="general, facts, preferences, context, specifications or session")
    p.add_argument("-l", "--labels", action="append", metavar="A,B", help="labels, comma separated (repeatable)")
    p.add_argument("--lane", "--memory-lane-type", dest="lane", help="memory-lane type, e.g. decision, semantic")
    p.add_argument("--metadata-json", metavar="JSON", help="extra metadata as a JSON object")
    p.add_argument("--session-key", help="session this memory belongs to")
    p.add_argument("--context", help="retrieval context: text that helps find the memory (not shown)")
    p.set_defaults(handler=cmd_store)

    p = sub.add_parser("search", parents=[common], help="search memories (all agents unless --agent)")
    p.add_argument("query_words", nargs="*", metavar="QUERY", help="what to search for")
    p.add_argument("-q", "--query", help="what to search for (alternative to the positional words)")
    p.add_argument("-n", "--limit", type=int, default=10, help="how many results (default 10)")
    p.add_argument("--mode", default=None,
                   help="hybrid (default; bm25 when no embedding model is available), bm25 or vector")
    p.add_argument("--explain", action="store_true", help="show every ranking component")
    add_filter_flags(p, search=True)
    p.set_defaults(handler=cmd_search)

    p = sub.add_parser("list", parents=[common], help="list memories, newest first")
    add_filter_flags(p)
    p.add_argument("-n", "--limit", type=int, default=20, help="how many (default 20)")
    p.add_argument("--offset", type=int, default=0, help="skip this many first")
    p.set_defaults(handler=cmd_list)

    p = sub.add_parser("get", parents=[common], help="show one memory")
    p.add_argument("memory_id", type=int, metavar="ID")
    p.set_defaults(handler=cmd_get)

    p = sub.add_parser("forget", parents=[common], help="archive a memory (soft delete, reversible)")
    p.add_argument("memory_id", type=int, metavar="ID")
    p.set_defaults(handler=cmd_forget)

    p = sub.add_parser("delete", parents=[common], help="delete a memory and its lineage for good")
    p.add_argument("memory_id", type=int, metavar="ID")
    p.set_defaults(handler=cmd_delete)

    p = sub.add_parser("stats", parents=[common],
                       help="counts per agent, category and cognitive level; tokens injected per day and session")
    p.add_argument("-a", "--agent", action="append", metavar="NAME", help="only these agents")
    p.add_argument("--days", type=int, default=7, metavar="N", help="days of injected tokens to show (default 7)")
    p.add_argument("--sessions", type=int, default=10, metavar="N", help="sessions to show (default 10)")
    p.set_defaults(handler=cmd_stats)


def _metadata(text: str | None) -> dict[str, Any] | None:
    from nexus_memory.errors import InvalidInput

    if text is None:
        return None
    try:
        value = json.loads(text)
    except RecursionError:
        raise InvalidInput("--metadata-json is nested too deeply", hint="flatten it (at most 32 levels)") from None
    except json.JSONDecodeError as exc:
        raise InvalidInput(
            f"--metadata-json is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno} (char {exc.pos})",
            hint='pass an object such as \'{"source": "notes"}\'',
        ) from None
    if not isinstance(value, dict):
        raise InvalidInput("--metadata-json must be a JSON object", hint='for example \'{"source": "notes"}\'')
    return value


#: More than a memory holds (200,000 characters, up to 4 bytes each): the rest is not read.
MAX_STDIN_BYTES = 1024 * 1024


def read_stdin_text() -> str:
    """Standard input as UTF-8 text, bounded; invalid UTF-8 is a clear error, not a crash later."""
    from nexus_memory.errors import InvalidInput

    data = sys.stdin.buffer.read(MAX_STDIN_BYTES + 1)
    if len(data) > MAX_STDIN_BYTES:
        raise InvalidInput(f"standard input holds more than {MAX_STDIN_BYTES} bytes",
                           hint="a memory holds at most 200000 characters; split the text")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidInput(f"standard input is not UTF-8 text (byte {exc.start})",
                           hint="convert it first, e.g. `iconv -f latin1 -t utf-8`") from None


def cmd_store(args: argparse.Namespace) -> int:
    from nexus_memory.cli.context import app_from
    from nexus_memory.cli.output import emit_json
    from nexus_memory.errors import InvalidInput
    from nexus_memory.services.memories import StoreRequest

    content = args.content
    if content is None:
        if sys.stdin.isatty():
            raise InvalidInput("no content given", hint="pass --content TEXT or pipe the text on standard input")
        content = read_stdin_text()
    metadata = _metadata(args.metadata_json)
    with app_from(args) as app:
        outcome = app.memories.store(StoreRequest(
            content=content, agent=args.agent, category=args.category, labels=split_csv(args.labels),
            lane=args.lane, metadata=metadata, session_key=args.session_key, context=args.context,
            source_stage="cli",
        ))
    m = outcome.memory
    if args.json:
        emit_json({"id": m.id, "created": outcome.created, "memory": m.to_dict()})
    elif outcome.created:
        print(f"Stored memory #{m.id} for {m.agent} ({m.category.value})")
    else:
        print(f"Merged into existing memory #{m.id} for {m.agent} (same content; seen {m.access_count + 1}x)")
    return 0


def cmd_search(args: argparse.Namespace) -> int:
    from nexus_memory.cli.context import app_from
    from nexus_memory.cli.output import emit_json, short
    from nexus_memory.domain.enums import SearchMode
    from nexus_memory.errors import InvalidInput
    from nexus_memory.services.search import SearchQuery

    text = args.query if args.query is not None else " ".join(args.query_words)
    if not text.strip():
        raise InvalidInput("the search query is empty", hint="for example: nexus search database pool size")
    mode = SearchMode.parse(args.mode) if args.mode else SearchMode.HYBRID
    query = SearchQuery(text=text, filter=filter_from(args), limit=args.limit, mode=mode, explain=args.explain)
    with app_from(args, existing=True) as app:
        outcome = app.search.run(query)
    hits = outcome.hits
    # Quiet when vectors were switched off on purpose and no mode was asked for.
    if outcome.note and (args.mode or args.explain or app.settings.embedding_backend != "none"):
        sys.stderr.write(f"nexus: note: {outcome.note}\n")
    if args.json:
        emit_json({"query": text, **outcome.to_dict(explain=args.explain)})
        return 0
    if not hits:
        print(f"No memories match '{text}'.")
        return 0
    used = outcome.mode.value + (f", {outcome.model}" if outcome.model else "")
    print(f"Found {len(hits)} memories matching '{text}' ({used}):")
    if args.explain and outcome.searched_as:
        print("searched as: " + "; ".join(f"{k} '{v}'" for k, v in outcome.searched_as.items()))
    for i, h in enumerate(hits, 1):
        m = h.memory
        print(f"{i:>2}. #{m.id} [{m.agent} · {m.category.value}] score={h.score:.4f}")
        print(f"    {short(m.content)}")
        if args.explain:
            print("    " + "  ".join(f"{k}={_fmt(v)}" for k, v in h.components.items()))
    return 0


def _fmt(value: float) -> str:
    return str(int(value)) if float(value).is_integer() and abs(value) >= 1 else f"{value:.4f}"


def cmd_list(args: argparse.Namespace) -> int:
    from nexus_memory.cli.context import app_from
    from nexus_memory.cli.output import emit_json, memory_line

    flt = filter_from(args)
    with app_from(args, existing=True) as app:
        items = app.memories.list_memories(flt, limit=args.limit, offset=args.offset)
        total = app.memories.count(flt)
    if args.json:
        emit_json({"total": total, "offset": args.offset, "limit": args.limit,
                   "memories": [m.to_dict() for m in items]})
        return 0
    if not items:
        print("No memories." if total == 0 else f"No memories past offset {args.offset} (total {total}).")
        return 0
    for m in items:
        print(memory_line(m, 200))
    shown_to = args.offset + len(items)
    print(f"-- {args.offset + 1}-{shown_to} of {total}")
    return 0


def cmd_get(args: argparse.Namespace) -> int:
    from nexus_memory.cli.context import app_from
    from nexus_memory.cli.output import emit_json, memory_detail

    with app_from(args, existing=True) as app:
        m = app.memories.get(args.memory_id, touch=True)
    if args.json:
        emit_json(m.to_dict())
    else:
        print(memory_detail(m))
    return 0


def cmd_forget(args: argparse.Namespace) -> int:
    from nexus_memory.cli.context import app_from
    from nexus_memory.cli.output import emit_json

    with app_from(args, existing=True) as app:
        m = app.memories.forget(args.memory_id)
    if args.json:
        emit_json({"id": m.id, "forgotten": True})
    else:
        print(f"Forgot memory #{m.id} (archived; `nexus list --archived` still shows it)")
    return 0


def cmd_delete(args: argparse.Namespace) -> int:
    from nexus_memory.cli.context import app_from
    from nexus_memory.cli.output import emit_json

    with app_from(args, existing=True) as app:
        app.memories.delete(args.memory_id)
    if args.json:
        emit_json({"id": args.memory_id, "deleted": True})
    else:
        print(f"Deleted memory #{args.memory_id}")
    return 0


def cmd_stats(args: argparse.Namespace) -> int:
    from nexus_memory.cli.context import app_from
    from nexus_memory.cli.output import emit_json
    from nexus_memory.domain.agents import validate_agent_name

    agents = split_csv(args.agent)
    with app_from(args, existing=True) as app:
        stats = app.memories.stats(agents or None)
        jobs = app.store.count_jobs_by_status()
        llm = app.cognition.llm_status()
        costs = app.costs.report(days=args.days, agents=[validate_agent_name(a) for a in agents],
                                 sessions=args.sessions).to_dict()
    if args.json:
        emit_json({"namespaces": [s.to_dict() for s in stats], "jobs": jobs,
                   "total_active": sum(s.active_memories for s in stats), "llm": llm.to_dict(),
                   "injections": costs})
        return 0
    if not stats:
        print("No memories yet. Store one with: nexus store --content 'something worth remembering'")
        return 0
    total = sum(s.active_memories for s in stats)
    print(f"{total} active memories in {len(stats)} agent namespace(s)")
    for s in stats:
        cats = ", ".join(f"{k}={v}" for k, v in sorted(s.categories.items())) or "-"
        levels = ", ".join(f"{k}={v}" for k, v in sorted(s.levels.items())) or "-"
        print(f"  {s.namespace_name}: {s.active_memories} active, {s.archived_memories} archived")
        print(f"      categories: {cats}")
        print(f"      levels:     {levels}")
    print("jobs: " + ", ".join(f"{k}={v}" for k, v in jobs.items()))
    print(llm.summary)
    from nexus_memory.cli.costs import render

    print("\n".join(render(costs)))
    return 0
