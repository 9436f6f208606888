"""What CognitionService's results look like as JSON: one scenario, every method, rendered as the
surfaces render them (`to_dict()`), reduced to its shape (keys in order, value types).

`tests/data/cognition_shapes.json` was written by running this scenario on the code before the
service returned typed results (when every method returned a dict), so the test beside this file
proves the JSON a user sees over REST, MCP and `--json` did not change shape:

    PYTHONPATH=<old checkout>/src:. python -m tests.services.cognition_shapes > tests/data/cognition_shapes.json
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path
from typing import Any

THREAD_STATUS = {"running": True, "drains": 3, "jobs_processed": 2, "dreams": 1, "deep_dreams": 0,
                 "errors": ["drain: Conflict: lost lease ownership"], "next_dream_in_secs": 12.5}


def rendered(value: Any) -> Any:
    """As a surface sends it: a result's `to_dict()`, a plain value as it is."""
    return value.to_dict() if hasattr(value, "to_dict") else value


def shape(value: Any) -> Any:
    if isinstance(value, dict):
        return [[str(k), shape(v)] for k, v in value.items()]
    if isinstance(value, list | tuple):
        return [shape(value[0])] if value else []
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    return type(value).__name__


def scenario(app: Any, project: Path) -> dict[str, Any]:
    """Every CognitionService method that returns a result, on a small store with two sessions."""
    from nexus_memory.domain.enums import CognitiveLevel
    from nexus_memory.services.memories import StoreRequest

    def put(content: str, session: str, level: CognitiveLevel = CognitiveLevel.EXPLICIT) -> int:
        new = app.memories.build(StoreRequest(content=content, agent="claude-code", session_key=session, level=level))
        return int(app.store.store(new).memory.id)

    first = put("The staging database listens on port 6543", "s1")
    put("Deploys run from the release branch every Tuesday", "s1")
    put("The staging database now listens on port 7000", "s2")
    put("Always use pnpm, never npm, in this repository", "s2")
    cog = app.cognition
    out: dict[str, Any] = {}
    out["dream_cycle"] = cog.dream_cycle("claude-code", "s1", timeout_secs=30)
    out["dream_cycle_namespace"] = cog.dream_cycle("claude-code", timeout_secs=30)
    out["reflect"] = cog.reflect("claude-code", "s2")
    out["derive"] = cog.derive(first, force=True)
    out["derive_again"] = cog.derive(first)
    out["distill"] = cog.distill("claude-code", "s1")
    out["digest"] = cog.digest("claude-code", "s2", rebuild=True)
    out["latest_digests"] = cog.latest_digests("claude-code", "s1")
    out["latest_digests_none"] = cog.latest_digests("claude-code", "no-such-session")
    out["lineage"] = cog.lineage(first)
    out["nap"] = cog.nap("claude-code", str(project), "s2")
    out["soul_before"] = cog.soul()
    out["rebuild_soul"] = cog.rebuild_soul(["claude-code"])
    out["soul"] = cog.soul()
    out["deep_dream"] = cog.deep_dream(force=True)
    out["deep_dream_skipped"] = cog.deep_dream()
    out["subconscious_status"] = cog.subconscious_status(str(project), "whisper")
    out["subconscious_status_no_project"] = cog.subconscious_status(None)
    out["thread_status_none"] = cog.thread_status() if hasattr(cog, "thread_status") else cog.worker_status()
    attr = "thread_status_provider" if hasattr(cog, "thread_status_provider") else "worker_status_provider"
    setattr(cog, attr, lambda: dict(THREAD_STATUS))
    out["thread_status_child"] = cog.thread_status() if hasattr(cog, "thread_status") else cog.worker_status()
    out["llm_test"] = cog.llm_test()
    out["llm_status"] = cog.llm_status()
    return out


def shapes(results: dict[str, Any]) -> dict[str, Any]:
    return {name: shape(rendered(value)) for name, value in results.items()}


def main() -> int:
    import os

    with tempfile.TemporaryDirectory() as tmp:
        for key in [k for k in os.environ if k.startswith("NEXUS_")]:
            del os.environ[key]
        os.environ.update({"NEXUS_HOME": str(Path(tmp) / "home"), "NEXUS_EMBEDDING_BACKEND": "none"})
        project = Path(tmp) / "proj"
        (project / ".nexus").mkdir(parents=True)
        from nexus_memory.app import build_app
        from nexus_memory.config import load_settings

        with build_app(load_settings()) as app:
            results = scenario(app, project)
    json.dump(shapes(results), sys.stdout, indent=1)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
