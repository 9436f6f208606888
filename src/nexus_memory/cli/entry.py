"""The `nexus` console script: `nexus hook ...` goes straight to the hook path.

Agent tools start `nexus hook` on every tool call, so it skips even the argparse-based main
module; every other command goes through `nexus_memory.cli.main.run`.
"""

from __future__ import annotations

import os
import sys


def private_files() -> None:
    """Files and folders a nexus process creates are the user's alone (0600/0700): the store, its WAL,
    exports, spools, logs and state hold a person's work. Settings files of the agent tools are written
    with their own modes (integrations/settings_file.py), so they keep theirs."""
    os.umask(0o077)


def _quiet_stop_until_ready() -> None:
    """`nexus serve` stops with exit 0 on SIGTERM/SIGINT at any moment: until its own handlers are in place
    (after the imports), a stop signal ends the process at once; nothing has been opened yet."""
    import signal

    def stop(signum: int, frame: object) -> None:
        os._exit(0)

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, stop)


if sys.argv[1:2] == ["serve"]:  # as early as Python lets us: the console script imports this module first
    _quiet_stop_until_ready()


def main() -> None:
    private_files()
    argv = sys.argv[1:]
    if argv[:1] != ["hook"] or "-h" in argv or "--help" in argv:
        from nexus_memory.cli.main import run

        run()
        return
    from nexus_memory.cli.hooks import hook_main

    quick_exit(hook_main(argv[1:]))


def quick_exit(code: int) -> None:
    """Exit without tearing the interpreter down (a fifth of a short command's wall time).

    The guarantees that matter are kept: atexit handlers run and output is flushed; with other
    threads still running the exit is the normal one, so none is cut off. Work is never left to
    finalizers: every command closes what it opened before returning.
    """
    import threading

    if threading.active_count() > 1:
        raise SystemExit(code)
    import atexit

    atexit._run_exitfuncs()
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (BrokenPipeError, OSError):
        pass
    os._exit(code)

if __name__ == "__main__":  # pragma: no cover
    main()
