"""The `nexus` console script: `nexus hook ...` goes straight to the hook path.

Agent tools start `nexus hook` on every tool call, so it skips even the argparse-based main
module; every other command goes through `nexus_memory.cli.main.run`.
"""

from __future__ import annotations

import os
import sys


def main() -> None:
    argv = sys.argv[1:]
    if argv[:1] != ["hook"] or "-h" in argv or "--help" in argv:
        from nexus_memory.cli.main import run

        run()
        return
    from nexus_memory.cli.hooks import hook_main

    code = hook_main(argv[1:])
    # Like `main.run`: flush and run atexit handlers, then skip the interpreter teardown.
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
