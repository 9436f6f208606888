"""OpenAI Codex CLI: `hooks.json` (seconds), MCP in `config.toml` as a marked block, AGENTS.md block.

Codex runs a new or changed hook only after the user trusts it (`/hooks`), so `status`
always reports that step after an install.
"""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

from nexus_memory.errors import IntegrationError
from nexus_memory.integrations import installer as ins
from nexus_memory.integrations.base_tool import HookTool, argv0
from nexus_memory.integrations.installer import MCP_NAME, Change, EventSpec, Manifest, Target
from nexus_memory.integrations.settings_file import read_text, remove_file, write_atomic

TOML_BEGIN = "# >>> nexus-memory (written by `nexus hooks install`; `nexus hooks uninstall` removes it) >>>"
TOML_END = "# <<< nexus-memory <<<"
#: ends the one line we add inside a `[features]` table the user already has
FEATURE_MARK = "# nexus-memory: hooks on (`nexus hooks uninstall` removes this line)"
_HEADER = re.compile(r"^[ \t]*\[")
_FEATURES_HEADER = re.compile(r"^[ \t]*\[[ \t]*features[ \t]*\][ \t]*(#.*)?$")
_MCP_HEADER = re.compile(r"^[ \t]*\[[ \t]*mcp_servers[ \t]*\][ \t]*(#.*)?$")


def _toml(path: Path, text: str) -> dict[str, object]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise IntegrationError(f"{path} is not valid TOML ({exc})",
                               hint="fix the file by hand (nothing was changed), then rerun") from None


def strip_ours(text: str) -> str:
    """The file without anything install wrote: the marked block and the marked features line."""
    out, inside = [], False
    for line in text.splitlines(keepends=True):
        if line.rstrip("\r\n") == TOML_BEGIN:
            inside = True
        elif inside and line.rstrip("\r\n") == TOML_END:
            inside = False
        elif not inside and FEATURE_MARK not in line:
            out.append(line)
    return "".join(out)


def place_config(text: str, server: dict[str, object], data: dict[str, object]) -> str:
    """Our MCP server (and `hooks = true`) in a user's config.toml, without capturing any of their keys.

    A TOML table runs until the next header, so a block of `[table]` headers at the end of the file
    would swallow every top-level key the user appends later (Codex then reads their `model = ...`
    as a field of our server). Dotted keys open no table: the block uses them and sits in the root
    section, before the first header. When the user already has a `[mcp_servers]` table, the block
    goes at its top with keys relative to it; an existing `[features]` table gets one marked line.
    `data` is the parsed file without our parts.
    """
    lines = text.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"  # the only byte added outside our block: TOML needs the line ended
    value = f"{{ command = {json.dumps(server['command'])}, args = {json.dumps(server['args'])} }}"
    features = data.get("features")
    wants_feature = not (isinstance(features, dict) and "hooks" in features)
    features_at = next((i for i, line in enumerate(lines) if _FEATURES_HEADER.match(line)), None)
    mcp_at = next((i for i, line in enumerate(lines) if _MCP_HEADER.match(line)), None)
    inserts: list[tuple[int, str]] = []
    root: list[str] = []
    if mcp_at is not None:
        inserts.append((mcp_at + 1, f"{TOML_BEGIN}\n{json.dumps(MCP_NAME)} = {value}\n{TOML_END}\n"))
    else:
        root.append(f"mcp_servers.{json.dumps(MCP_NAME)} = {value}\n")
    if wants_feature and features_at is not None:
        inserts.append((features_at + 1, f"hooks = true  {FEATURE_MARK}\n"))
    elif wants_feature and features is None:
        root.insert(0, "features.hooks = true\n")
    if root:
        first = next((i for i, line in enumerate(lines) if _HEADER.match(line)), len(lines))
        inserts.append((first, f"{TOML_BEGIN}\n{''.join(root)}{TOML_END}\n"))
    for at, piece in sorted(inserts, key=lambda p: p[0], reverse=True):
        lines.insert(at, piece)
    return "".join(lines)


class Codex(HookTool):
    name = "codex"
    display = "Codex CLI"
    binaries = ("codex",)
    events = (
        EventSpec("SessionStart", "startup|resume|clear|compact", 15),
        EventSpec("UserPromptSubmit", None, 15),
        EventSpec("PostToolUse", None, 15),
        EventSpec("Stop", None, 15),
        EventSpec("PreCompact", None, 15),
        EventSpec("PostCompact", None, 15),
        EventSpec("SessionEnd", None, 3),
    )
    capabilities = {"capture": "yes", "session_context": "yes", "prompt_context": "yes",
                    "compaction_recovery": "yes", "mcp": "yes"}

    def user_dir(self, t: Target) -> Path:
        return t.env_dir("CODEX_HOME", t.home / ".codex")

    def hooks_file(self, t: Target) -> Path:
        return self.base(t) / "hooks.json"

    def config_file(self, t: Target) -> Path:
        return self.base(t) / "config.toml"

    def context_file(self, t: Target) -> Path:
        return (self.user_dir(t) if t.scope == "user" else t.project) / "AGENTS.md"

    def install(self, t: Target, manifest: Manifest) -> list[Change]:
        changes = super().install(t, manifest)
        path = self.config_file(t)
        old = read_text(path)
        _toml(path, old or "")  # a malformed file is refused untouched
        base = strip_ours(old or "")
        without = _toml(path, base)
        servers = without.get("mcp_servers")
        if isinstance(servers, dict) and MCP_NAME in servers:
            changes.append(Change(str(path), "skipped", f"an MCP server named {MCP_NAME} exists and is not ours"))
            return changes
        new = place_config(base, {"command": argv0(t), "args": ["mcp"]}, without)
        try:
            tomllib.loads(new)  # never write a file Codex could not read
        except tomllib.TOMLDecodeError as exc:
            raise IntegrationError(
                f"cannot add the nexus-memory MCP server to {path} without breaking it ({exc})",
                hint=f"add it by hand: [mcp_servers.{MCP_NAME}] command = \"{argv0(t)}\", args = [\"mcp\"]",
            ) from None
        if new == old:
            changes.append(Change(str(path), "unchanged", f"MCP server {MCP_NAME}"))
        else:
            write_atomic(path, new)
            changes.append(Change(str(path), "created" if old is None else "updated", f"MCP server {MCP_NAME}"))
            manifest.record(path, created_file=old is None, created=[])
        return changes

    def uninstall(self, t: Target, manifest: Manifest) -> list[Change]:
        changes = super().uninstall(t, manifest)
        path = self.config_file(t)
        old = read_text(path)
        if old is None:
            return changes
        new = strip_ours(old)
        if manifest.entry(path).get("created_file") and not new.strip():
            remove_file(path)
            changes.append(Change(str(path), "removed", "file created by install"))
        elif new != old:
            write_atomic(path, new)
            changes.append(Change(str(path), "updated", f"removed MCP server {MCP_NAME}"))
        manifest.forget(path)
        return changes

    def status(self, t: Target) -> ins.ToolStatus:
        st = super().status(t)
        path = self.config_file(t)
        try:
            data = tomllib.loads(read_text(path) or "")
        except tomllib.TOMLDecodeError as exc:
            data = {}
            st.notes.append(f"{path} is not valid TOML ({exc}): Codex will not start until it is fixed")
        servers = data.get("mcp_servers")
        has_mcp = isinstance(servers, dict) and ins.is_our_mcp(servers.get(MCP_NAME))
        st.capabilities["mcp"] = "yes" if has_mcp else "yes (not installed)"
        st.files.append(str(path))
        hooks_ok = len(ins.hooks_present(self.hooks_file(t), [s.event for s in self.events])) == len(self.events)
        features = data.get("features")
        hooks_off = isinstance(features, dict) and features.get("hooks") is False
        if hooks_ok and has_mcp and not hooks_off:
            st.installed = "yes"
        else:
            st.installed = "partial" if has_mcp or st.installed != "no" else "no"
        if st.installed != "no" and not any(n.startswith("hook trust") for n in st.notes):
            st.notes = [*self.trust_notes(t), *st.notes]
        if hooks_off:
            st.notes.append(f"hooks are turned off in {path} ([features] hooks = false): no capture and no context "
                            "until you remove that line")
            for cap in ("capture", "session_context", "prompt_context", "compaction_recovery"):
                st.capabilities[cap] = "no (hooks turned off)"
        return st

    def trust_notes(self, t: Target) -> list[str]:
        notes = ["hook trust: Codex runs a new or changed hook only after you trust it, and says nothing otherwise: "
                 "start `codex`, open /hooks and trust the nexus-memory entries (again after each reinstall that "
                 "changes them); `codex exec --dangerously-bypass-hook-trust` runs them unreviewed for that one "
                 "run and records no trust"]
        if t.scope == "project":
            notes.append("project hooks load only when the project's .codex/ layer is trusted")
        return notes


TOOL = Codex()
