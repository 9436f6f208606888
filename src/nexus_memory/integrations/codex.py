"""OpenAI Codex CLI: `hooks.json` (seconds), MCP in `config.toml` as a marked block, AGENTS.md block.

Codex runs a new or changed hook only after the user trusts it (`/hooks`), so `status`
always reports that step after an install.
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

from nexus_memory.errors import IntegrationError
from nexus_memory.integrations import installer as ins
from nexus_memory.integrations.base_tool import HookTool, argv0
from nexus_memory.integrations.installer import MCP_NAME, Change, EventSpec, Manifest, Target
from nexus_memory.integrations.settings_file import read_text, remove_file, replace_block, write_atomic

TOML_BEGIN = "# >>> nexus-memory (written by `nexus hooks install`; `nexus hooks uninstall` removes it) >>>"
TOML_END = "# <<< nexus-memory <<<"


def _toml(path: Path, text: str) -> dict[str, object]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise IntegrationError(f"{path} is not valid TOML ({exc})",
                               hint="fix the file by hand (nothing was changed), then rerun") from None


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

    def _block(self, t: Target, data: dict[str, object]) -> str:
        body = f"[mcp_servers.{MCP_NAME}]\ncommand = {json.dumps(argv0(t))}\nargs = [\"mcp\"]\n"
        if "features" not in data:
            body = "[features]\nhooks = true\n\n" + body
        return body

    def install(self, t: Target, manifest: Manifest) -> list[Change]:
        changes = super().install(t, manifest)
        path = self.config_file(t)
        old = read_text(path)
        _toml(path, old or "")  # a malformed file is refused untouched
        without = _toml(path, replace_block(old or "", TOML_BEGIN, TOML_END, None))
        servers = without.get("mcp_servers")
        if isinstance(servers, dict) and MCP_NAME in servers:
            changes.append(Change(str(path), "skipped", f"an MCP server named {MCP_NAME} exists and is not ours"))
            return changes
        new = replace_block(old or "", TOML_BEGIN, TOML_END, self._block(t, without))
        _toml(path, new)  # never write a file Codex could not read
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
        new = replace_block(old, TOML_BEGIN, TOML_END, None)
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
        text = read_text(self.config_file(t)) or ""
        has_mcp = TOML_BEGIN in text
        st.capabilities["mcp"] = "yes" if has_mcp else "yes (not installed)"
        st.files.append(str(self.config_file(t)))
        hooks_ok = len(ins.hooks_present(self.hooks_file(t), [s.event for s in self.events])) == len(self.events)
        st.installed = "yes" if hooks_ok and has_mcp else ("partial" if has_mcp or st.installed != "no" else "no")
        if st.installed != "no" and not st.notes:
            st.notes = self.trust_notes(t)
        try:
            features = tomllib.loads(text).get("features", {})
        except tomllib.TOMLDecodeError:
            features = {}
        if isinstance(features, dict) and features.get("hooks") is False:
            st.notes.append(f"hooks are turned off in {self.config_file(t)} ([features] hooks = false)")
        return st

    def trust_notes(self, t: Target) -> list[str]:
        notes = ["hook trust: Codex skips new or changed hooks until you trust them; start `codex`, open /hooks "
                 "and trust the nexus-memory entries (or run once with --dangerously-bypass-hook-trust)"]
        if t.scope == "project":
            notes.append("project hooks load only when the project's .codex/ layer is trusted")
        return notes


TOOL = Codex()
