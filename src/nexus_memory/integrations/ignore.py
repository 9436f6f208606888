"""`.nexus/ignore`: per-project exclusions for capture.

One rule per line, `#` starts a comment:
- `tool:<name>` skips events of that tool (case-insensitive, `*` wildcards allowed);
- `agent:<name>` skips every event of that agent tool;
- `*` alone skips capture in this project entirely;
- anything else is a path glob (relative to the project root, gitignore-like): events whose
  file path, or whose shell command, mentions a matching path are not captured.
Context is still injected; only capture is affected.
"""

from __future__ import annotations

import fnmatch
import os
from dataclasses import dataclass, field
from pathlib import Path

from nexus_memory.integrations.events import HookEvent


@dataclass(frozen=True, slots=True)
class IgnoreRules:
    everything: bool = False
    tools: tuple[str, ...] = ()
    agents: tuple[str, ...] = ()
    paths: tuple[str, ...] = field(default_factory=tuple)

    @classmethod
    def load(cls, root: Path) -> IgnoreRules:
        try:
            text = (root / ".nexus" / "ignore").read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            return cls()
        everything = False
        tools: list[str] = []
        agents: list[str] = []
        paths: list[str] = []
        for raw in text.splitlines():
            line = raw.split("#", 1)[0].strip()
            if not line:
                continue
            if line == "*":
                everything = True
            elif line.lower().startswith("tool:"):
                tools.append(line[5:].strip().lower())
            elif line.lower().startswith("agent:"):
                agents.append(line[6:].strip().lower())
            else:
                paths.append(line.strip("/"))
        return cls(everything, tuple(tools), tuple(agents), tuple(paths))

    def excludes(self, event: HookEvent, root: Path) -> bool:
        if self.everything:
            return True
        if any(fnmatch.fnmatch(event.agent, a) for a in self.agents):
            return True
        tool = (event.tool_name or "").lower()
        if tool and any(fnmatch.fnmatch(tool, t) for t in self.tools):
            return True
        if not self.paths:
            return False
        for candidate in _paths_of(event):
            rel = _relative(candidate, root)
            parts = rel.split("/")
            for pattern in self.paths:
                if fnmatch.fnmatch(rel, pattern) or fnmatch.fnmatch(parts[-1], pattern) or any(
                        fnmatch.fnmatch("/".join(parts[: i + 1]), pattern) for i in range(len(parts))):
                    return True
        return False


def _relative(path: str, root: Path) -> str:
    try:
        return os.path.relpath(path, root) if os.path.isabs(path) else os.path.normpath(path)
    except ValueError:
        return path


def _paths_of(event: HookEvent) -> list[str]:
    out: list[str] = []
    ti = event.tool_input
    if isinstance(ti, dict):
        for key in ("file_path", "filePath", "path", "absolute_path", "notebook_path"):
            if isinstance(ti.get(key), str):
                out.append(ti[key])
    cmd = event.command()
    if cmd:
        out.extend(word.strip("'\"") for word in cmd.split() if "/" in word or "." in word)
    return out
