"""embeddings status | backfill | rebuild."""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

COMMANDS = ("embeddings",)


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    emb = sub.add_parser("embeddings", help="vectors for semantic search: status, backfill, rebuild",
                         description="Keep every memory's vectors on the configured embedding model.")
    esub = emb.add_subparsers(dest="embeddings_command", metavar="ACTION")
    p = esub.add_parser("status", parents=[common], help="configured model and how many memories have vectors")
    p.set_defaults(handler=cmd_status)

    p = esub.add_parser("backfill", parents=[common], help="embed memories that lack a vector of the configured model")
    p.add_argument("--batch-size", type=int, default=64, help="memories per batch (default 64)")
    p.add_argument("--max", type=int, default=None, metavar="N", help="stop after N memories (resume later)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar on standard error")
    p.set_defaults(handler=cmd_backfill)

    p = esub.add_parser("rebuild", parents=[common], help="re-embed every memory with the configured model")
    p.add_argument("--batch-size", type=int, default=64, help="memories per batch (default 64)")
    p.add_argument("--restart", action="store_true", help="start over instead of resuming an interrupted rebuild")
    p.add_argument("--prune", action="store_true", help="afterwards delete vectors of every other model")
    p.add_argument("--no-progress", action="store_true", help="no progress bar on standard error")
    p.set_defaults(handler=cmd_rebuild)
    emb.set_defaults(handler=lambda a: (emb.print_help(), 2)[1])


class ProgressBar:
    """`[#####.....] 120/300 memories  41/s` on stderr: redrawn in place on a terminal,
    a line per 10% otherwise (logs, CI)."""

    def __init__(self, label: str, enabled: bool = True) -> None:
        self.label = label
        self.enabled = enabled
        self.tty = sys.stderr.isatty()
        self.start = time.monotonic()
        self.last_decile = -1

    def __call__(self, done: int, total: int) -> None:
        if not self.enabled:
            return
        total = max(total, done, 1)
        frac = done / total
        rate = done / max(time.monotonic() - self.start, 1e-6)
        width = 30
        bar = "#" * int(frac * width) + "." * (width - int(frac * width))
        line = f"{self.label} [{bar}] {done}/{total} memories  {rate:.0f}/s"
        if self.tty:
            sys.stderr.write("\r" + line)
            if done >= total:
                sys.stderr.write("\n")
        elif int(frac * 10) != self.last_decile:
            self.last_decile = int(frac * 10)
            sys.stderr.write(line + "\n")
        sys.stderr.flush()


def _check_batch(size: int) -> None:
    from nexus_memory.errors import InvalidInput

    if not 1 <= size <= 4096:
        raise InvalidInput(f"--batch-size {size} is out of range", hint="use 1 to 4096")


def cmd_status(args: argparse.Namespace) -> int:
    from nexus_memory.cli.context import app_from
    from nexus_memory.cli.output import emit_json

    with app_from(args) as app:
        assert app.embeddings is not None
        result = app.embeddings.status()
    status = result.to_dict()  # the text below says what --json says
    if args.json:
        emit_json(status)
        return 0
    print(f"backend:   {status['backend']}")
    print(f"model:     {status['model'] or '-'}" + (f" ({status['dimension']}-d)" if status["model"] else ""))
    print(f"available: {'yes' if status['available'] else 'no: ' + str(status['reason'])}")
    print(f"memories:  {status['active_memories']} active, {status['with_vectors']} with vectors of this model"
          + (f", {status['missing']} missing" if status["missing"] is not None else ""))
    kernel = status.get("kernel")
    if kernel:
        print(f"kernel:    {kernel.get('kernel') or 'not chosen yet'} (NEXUS_EMBEDDING_KERNEL={kernel['setting']}): "
              f"{kernel.get('reason')}")
    for model, count in status["other_models"].items():
        print(f"other model {model}: {count} memories (never searched; `nexus embeddings rebuild --prune` drops them)")
    if status["rebuild_in_progress"]:
        print("a rebuild was interrupted: run `nexus embeddings rebuild` to resume it")
    elif status["missing"]:
        print("run `nexus embeddings backfill` to embed the missing ones")
    return 0


def _run(args: argparse.Namespace, action: str) -> int:
    from nexus_memory.cli.context import app_from
    from nexus_memory.cli.output import emit_json

    _check_batch(args.batch_size)
    with app_from(args) as app:
        assert app.embeddings is not None
        bar = ProgressBar(action, enabled=not args.no_progress)
        if action == "rebuild":
            run = app.embeddings.rebuild(batch_size=args.batch_size, progress=bar, restart=args.restart,
                                         prune_other_models=args.prune)
        else:
            run = app.embeddings.backfill(batch_size=args.batch_size, progress=bar, max_memories=args.max)
    if args.json:
        emit_json(run.to_dict())
    else:
        verb = "Resumed the rebuild:" if run.resumed else f"{action.capitalize()}:"
        print(f"{verb} embedded {run.embedded} memories ({run.vectors} vectors) with {run.model}; "
              f"{run.failed} failed, {run.remaining} still missing"
              + (f"; pruned {run.pruned} vectors of other models" if run.pruned else ""))
    return 1 if run.failed else 0


def cmd_backfill(args: argparse.Namespace) -> int:
    return _run(args, "backfill")


def cmd_rebuild(args: argparse.Namespace) -> int:
    return _run(args, "rebuild")
