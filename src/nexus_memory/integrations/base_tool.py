"""`HookTool`: the shared shape of one agent tool's integration (files, events, MCP, status).

Each tool module subclasses it with its own paths, event names, timeout unit and handler
shape; the JSON editing itself is in `installer.py`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from nexus_memory.integrations import installer as ins
from nexus_memory.integrations.installer import Change, EventSpec, Manifest, Target, ToolStatus
from nexus_memory.integrations.settings_file import BACKUP_SUFFIX


class HookTool:
    name = ""
    display = ""
    binaries: tuple[str, ...] = ()
    events: tuple[EventSpec, ...] = ()
    capabilities: dict[str, str] = {}
    top: dict[str, Any] | None = None
    mcp_keys: tuple[str, ...] = ("mcpServers",)
    #: the context-file block is written only with --context-files, and only into existing files
    context_file_always = False

    # paths ------------------------------------------------------------------------------------
    def user_dir(self, t: Target) -> Path:
        raise NotImplementedError

    def base(self, t: Target) -> Path:
        return self.user_dir(t) if t.scope == "user" else t.project / self.user_dir(t).name

    def hooks_file(self, t: Target) -> Path | None:
        raise NotImplementedError

    def hooks_container(self, t: Target) -> tuple[str, ...]:
        """Where the event map sits in the hooks file: under `hooks` (settings files) or at its root."""
        return ("hooks",)

    def mcp_file(self, t: Target) -> Path | None:
        return None

    def context_file(self, t: Target) -> Path | None:
        return None

    # entries ----------------------------------------------------------------------------------
    def handler(self, t: Target, spec: EventSpec) -> dict[str, Any]:
        h: dict[str, Any] = {"type": "command", "command": t.hook_command(self.name, spec.event)}
        if spec.timeout is not None:
            h["timeout"] = spec.timeout
        return h

    def group(self, t: Target, spec: EventSpec) -> dict[str, Any]:
        g: dict[str, Any] = {}
        if spec.matcher is not None:
            g["matcher"] = spec.matcher
        g["hooks"] = [self.handler(t, spec)]
        return g

    def mcp_value(self, t: Target) -> dict[str, Any]:
        return {"command": argv0(t), "args": ["mcp"]}

    def trust_notes(self, t: Target) -> list[str]:
        return []

    def extra_notes(self, t: Target) -> list[str]:
        return []

    # operations -------------------------------------------------------------------------------
    def install(self, t: Target, manifest: Manifest) -> list[Change]:
        changes: list[Change] = []
        hooks = self.hooks_file(t)
        if hooks is not None and self.events:
            entries = [(s.event, self.group(t, s)) for s in self.events]
            ins.install_hooks(hooks, entries, manifest, changes, top=self.top, container=self.hooks_container(t))
        mcp = self.mcp_file(t)
        if mcp is not None:
            ins.install_mcp(mcp, list(self.mcp_keys), self.mcp_value(t), manifest, changes)
        ctx = self.context_file(t)
        if ctx is not None and (t.context_files or self.context_file_always):
            ins.install_md(ctx, ins.md_block(self.name), manifest, changes, create=self.context_file_always)
        return changes

    def uninstall(self, t: Target, manifest: Manifest) -> list[Change]:
        changes: list[Change] = []
        hooks = self.hooks_file(t)
        if hooks is not None:
            ins.uninstall_hooks(hooks, manifest, changes, self.hooks_container(t))
        mcp = self.mcp_file(t)
        if mcp is not None:
            ins.uninstall_mcp(mcp, list(self.mcp_keys), manifest, changes)
        ctx = self.context_file(t)
        if ctx is not None:
            ins.uninstall_md(ctx, manifest, changes)
        for path in (hooks, mcp):  # one file may hold both: forget it only when both are done
            if path is not None:
                manifest.forget(path)
        return changes

    def found(self, t: Target) -> bool:
        """On PATH, or its config folder holds something that `install` did not create."""
        if ins.found_on_path(self.binaries, t.env):
            return True
        folder = self.user_dir(t)
        if not folder.is_dir():
            return False
        ours = {p for p, e in Manifest(t.state_dir).data.items() if isinstance(e, dict) and e.get("created_file")}

        def foreign(p: Path) -> bool:  # a file install did not create, or a folder holding one
            if p.is_dir():
                return any(foreign(c) for c in p.iterdir())
            return str(p) not in ours and not p.name.endswith(BACKUP_SUFFIX)

        return any(p.name != "hooks" and foreign(p) for p in folder.iterdir())

    def status(self, t: Target) -> ToolStatus:
        hooks = self.hooks_file(t)
        wanted = [s.event for s in self.events]
        present = ins.hooks_present(hooks, wanted, self.hooks_container(t)) if hooks is not None else []
        mcp = self.mcp_file(t)
        mcp_ok = ins.mcp_present(mcp, list(self.mcp_keys)) if mcp is not None else False
        parts = ([len(present) == len(wanted)] if wanted else []) + ([mcp_ok] if mcp is not None else [])
        installed = "yes" if parts and all(parts) else ("partial" if any(parts) or present else "no")
        caps = {}
        for cap in ins.CAPABILITIES:
            level = self.capabilities.get(cap, "no")
            works = mcp_ok if cap == "mcp" else bool(present) if level != "no" else False
            caps[cap] = f"{level}" if works else ("no" if level == "no" else f"{level} (not installed)")
        notes = [*self.trust_notes(t), *self.extra_notes(t)] if installed != "no" else []
        if wanted and present and len(present) < len(wanted):
            notes.append(f"missing hook events: {', '.join(e for e in wanted if e not in present)}; "
                         f"rerun `nexus hooks install --agent {self.name}`")
        files = [str(p) for p in (hooks, mcp) if p is not None]
        return ToolStatus(self.name, self.display, self.found(t), installed, files, caps, notes)


def argv0(t: Target) -> str:
    """The nexus executable alone (MCP entries take the program and its arguments apart)."""
    import shlex

    try:
        return shlex.split(t.command)[0]
    except ValueError:
        return t.command
