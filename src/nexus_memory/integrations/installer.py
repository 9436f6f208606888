"""Install, status and uninstall for tools configured by JSON files (hooks + MCP + context files).

Our entries are recognisable (the command runs `nexus hook`; Gemini/Qwen handlers are also
named `nexus-memory-*`; the MCP server is `nexus-memory` running `nexus mcp`). A manifest
beside the Nexus config records which containers (a `hooks` object, an event list, a whole
file) install created, so uninstall removes exactly those and nothing the user had.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nexus_memory.integrations.settings_file import (
    JsonDoc,
    load_json,
    read_text,
    remove_file,
    replace_block,
    write_atomic,
)

MCP_NAME = "nexus-memory"
HANDLER_PREFIX = "nexus-memory"
MD_BEGIN = "<!-- NEXUS:START -->"
MD_END = "<!-- NEXUS:END -->"
_OURS = re.compile(r"(^|[/\\\s\"'])nexus(\.exe)?[\"']?\s+hook\s")
CAPABILITIES = ("capture", "session_context", "prompt_context", "compaction_recovery", "mcp")


@dataclass(frozen=True)
class Target:
    """Where to install: a user's home (scope user) or a project folder (scope project)."""

    home: Path
    project: Path
    scope: str  # user | project
    command: str  # how to run nexus, already shell-quoted
    state_dir: Path  # where the manifest lives
    env: Mapping[str, str] = field(default_factory=dict)
    context_files: bool = False

    def hook_command(self, agent: str, event: str) -> str:
        return f"{self.command} hook {agent} {event}"

    def env_dir(self, var: str, default: Path) -> Path:
        value = self.env.get(var)
        return Path(value).expanduser() if value else default


@dataclass
class Change:
    path: str
    action: str  # created | updated | unchanged | removed | skipped
    detail: str = ""

    def to_dict(self) -> dict[str, str]:
        return {"path": self.path, "action": self.action, "detail": self.detail}


@dataclass
class ToolStatus:
    agent: str
    display: str
    found: bool
    installed: str  # yes | partial | no
    files: list[str]
    capabilities: dict[str, str]
    notes: list[str]

    def to_dict(self) -> dict[str, Any]:
        return {"agent": self.agent, "display": self.display, "found": self.found, "installed": self.installed,
                "files": self.files, "capabilities": self.capabilities, "notes": self.notes}


@dataclass(frozen=True)
class EventSpec:
    event: str
    matcher: str | None = None
    timeout: int | None = None  # in the tool's own unit


def is_ours(item: Any) -> bool:
    """A handler (or flat entry) that we wrote."""
    if not isinstance(item, dict):
        return False
    name = item.get("name")
    if isinstance(name, str) and name.startswith(HANDLER_PREFIX):
        return True
    return any(isinstance(item.get(k), str) and _OURS.search(item[k]) for k in ("command", "bash"))


def is_our_mcp(value: Any) -> bool:
    if not isinstance(value, dict):
        return False
    cmd = value.get("command")
    parts = cmd if isinstance(cmd, list) else [cmd, *(value.get("args") or [])]
    text = " ".join(str(p) for p in parts if p)
    return bool(re.search(r"(^|[/\\\s])nexus(\.exe)?\s+mcp(\s|$)", text))


# ------------------------------------------------------------------------------------ manifest
class Manifest:
    def __init__(self, state_dir: Path) -> None:
        self.path = state_dir / "integrations" / "manifest.json"
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            data = {}
        self.data: dict[str, Any] = data if isinstance(data, dict) else {}

    def entry(self, path: Path) -> dict[str, Any]:
        value = self.data.setdefault(str(path), {"created_file": False, "created": []})
        return value if isinstance(value, dict) else {"created_file": False, "created": []}

    def record(self, path: Path, *, created_file: bool, created: list[list[str]]) -> None:
        entry = self.entry(path)
        entry["created_file"] = bool(entry.get("created_file")) or created_file
        known = [list(p) for p in entry.get("created", [])]
        for p in created:
            if p not in known:
                known.append(p)
        entry["created"] = known
        self.data[str(path)] = entry

    def forget(self, path: Path) -> None:
        self.data.pop(str(path), None)

    def save(self) -> None:
        write_atomic(self.path, json.dumps(self.data, indent=2, sort_keys=True) + "\n", backup=False,
                     default_mode=0o600)


# ------------------------------------------------------------------------------------ JSON edits
def _write(path: Path, old: str | None, doc: JsonDoc, changes: list[Change], detail: str) -> None:
    if old is not None and doc.text == old:
        changes.append(Change(str(path), "unchanged", detail))
        return
    write_atomic(path, doc.text)
    changes.append(Change(str(path), "created" if old is None else "updated", detail))


def install_hooks(path: Path, entries: list[tuple[str, dict[str, Any]]], manifest: Manifest,
                  changes: list[Change], *, top: dict[str, Any] | None = None,
                  container: tuple[str, ...] = ("hooks",)) -> None:
    """Add our group (or flat entry) per event in `container` (`hooks`, or the file's root for files
    that hold only hooks, like Droid's hooks.json); re-running changes nothing."""
    old = read_text(path)
    doc = JsonDoc(old, path)
    box = list(container)
    created: list[list[str]] = []
    for key, value in (top or {}).items():
        if doc.get([key]) is None:
            doc.set_member([], key, value)
            created.append([key])
    if box and doc.ensure(box, {}):
        created.append(box)
    if not isinstance(doc.get(box), dict):
        from nexus_memory.errors import IntegrationError

        raise IntegrationError(f"{path}: '{'.'.join(box)}' is not an object", hint="fix the file by hand, then rerun")
    for event, group in entries:
        current = doc.get([*box, event])
        if current is None:
            if box:
                doc.ensure([*box, event], [group])
            else:
                doc.set_member([], event, [group])
            created.append([*box, event])
            continue
        if not isinstance(current, list):
            continue
        ours = [i for i, item in enumerate(current) if _group_is_ours(item)]
        if len(ours) == 1 and current[ours[0]] == group and not _has_foreign_ours(current, ours[0]):
            continue
        _remove_ours_in(doc, [*box, event])
        doc.append([*box, event], group)
    _write(path, old, doc, changes, f"{len(entries)} hook event(s)")
    manifest.record(path, created_file=old is None, created=created)


def _group_is_ours(item: Any) -> bool:
    if isinstance(item, dict) and isinstance(item.get("hooks"), list):
        return bool(item["hooks"]) and all(is_ours(h) for h in item["hooks"])
    return is_ours(item)


def _has_foreign_ours(items: list[Any], keep: int) -> bool:
    """Our handler sitting inside a group that is not entirely ours."""
    for i, item in enumerate(items):
        if i != keep and isinstance(item, dict) and isinstance(item.get("hooks"), list) and any(
                is_ours(h) for h in item["hooks"]):
            return True
    return False


def _remove_ours_in(doc: JsonDoc, keys: list[str | int]) -> int:
    removed = 0
    items = doc.get(keys)
    if not isinstance(items, list):
        return 0
    for i in range(len(items) - 1, -1, -1):
        item = items[i]
        if _group_is_ours(item):
            doc.remove([*keys, i])
            removed += 1
        elif isinstance(item, dict) and isinstance(item.get("hooks"), list):
            handlers = item["hooks"]
            for j in range(len(handlers) - 1, -1, -1):
                if is_ours(handlers[j]):
                    doc.remove([*keys, i, "hooks", j])
                    removed += 1
    return removed


def uninstall_hooks(path: Path, manifest: Manifest, changes: list[Change],
                    container: tuple[str, ...] = ("hooks",)) -> None:
    old = read_text(path)
    if old is None:
        manifest.forget(path)
        return
    doc = JsonDoc(old, path)
    hooks = doc.get(list(container))
    removed = 0
    if isinstance(hooks, dict):
        for event in list(hooks):
            removed += _remove_ours_in(doc, [*container, event])
    _finish_uninstall(path, old, doc, manifest, changes, f"{removed} hook entr{'y' if removed == 1 else 'ies'}")


def _finish_uninstall(path: Path, old: str, doc: JsonDoc, manifest: Manifest, changes: list[Change],
                      detail: str) -> None:
    entry = manifest.entry(path)
    created = [list(p) for p in entry.get("created", [])]
    for keys in sorted(created, key=len, reverse=True):
        if doc.get(keys) in ({}, []):
            doc.remove(keys)
    created_top = {k[0] for k in created if len(k) == 1}
    if doc.data and set(doc.data) <= created_top and not any(
            isinstance(v, (dict, list)) for v in doc.data.values()):  # only our scalars (e.g. "version") are left
        for key in list(doc.data):
            doc.remove([key])
    if entry.get("created_file") and doc.data == {}:
        remove_file(path)
        changes.append(Change(str(path), "removed", "file created by install"))
    elif doc.text != old:
        write_atomic(path, doc.text)
        changes.append(Change(str(path), "updated", f"removed {detail}"))
    else:
        changes.append(Change(str(path), "unchanged", "nothing of ours"))


def install_mcp(path: Path, keys: list[str], value: dict[str, Any], manifest: Manifest,
                changes: list[Change]) -> None:
    """Our server under `keys` (e.g. ["mcpServers"]); a same-named server that is not ours is left alone."""
    old = read_text(path)
    doc = JsonDoc(old, path)
    created: list[list[str]] = []
    for depth in range(1, len(keys) + 1):
        if doc.get(keys[:depth]) is None:
            doc.ensure(keys[:depth], {})
            created.append(keys[:depth])
    existing = doc.get([*keys, MCP_NAME])
    if existing is not None and not is_our_mcp(existing):
        changes.append(Change(str(path), "skipped", f"an MCP server named {MCP_NAME} exists and is not ours"))
        return
    if existing != value:
        doc.set_member(keys, MCP_NAME, value)
    _write(path, old, doc, changes, f"MCP server {MCP_NAME}")
    manifest.record(path, created_file=old is None, created=created)


def uninstall_mcp(path: Path, keys: list[str], manifest: Manifest, changes: list[Change]) -> None:
    old = read_text(path)
    if old is None:
        manifest.forget(path)
        return
    doc = JsonDoc(old, path)
    if is_our_mcp(doc.get([*keys, MCP_NAME])):
        doc.remove([*keys, MCP_NAME])
    _finish_uninstall(path, old, doc, manifest, changes, f"MCP server {MCP_NAME}")


def mcp_present(path: Path, keys: list[str]) -> bool:
    text = read_text(path)
    if not text:
        return False
    try:
        data = load_json(text)
        for key in [*keys, MCP_NAME]:
            data = data[key]
    except (ValueError, KeyError, TypeError):
        return False
    return is_our_mcp(data)


def hooks_present(path: Path, events: list[str], container: tuple[str, ...] = ("hooks",)) -> list[str]:
    """Which of `events` have one of our handlers in the file."""
    text = read_text(path)
    if not text:
        return []
    try:
        hooks = load_json(text)
        for key in container:
            hooks = hooks.get(key) or {}
    except (ValueError, AttributeError):
        return []
    found = []
    for event in events:
        items = hooks.get(event) if isinstance(hooks, dict) else None
        if isinstance(items, list) and any(
                _group_is_ours(i) or (isinstance(i, dict) and any(is_ours(h) for h in i.get("hooks") or []))
                for i in items):
            found.append(event)
    return found


# ------------------------------------------------------------------------------------ text files
def md_block(agent: str) -> str:
    return ("## Nexus Memory\n"
            f"- Project context from earlier sessions (all agent tools): [.nexus/context.md](.nexus/context.md), "
            "rewritten at each session start.\n"
            f"- Search or store memories with the `{MCP_NAME}` MCP tools (search_memories, store_memory), "
            "or `nexus search <words>` in a shell.\n")


def install_md(path: Path, body: str, manifest: Manifest, changes: list[Change], *, create: bool) -> None:
    old = read_text(path)
    if old is None and not create:
        changes.append(Change(str(path), "skipped", "file does not exist (only existing files get the block)"))
        return
    new = replace_block(old or "", MD_BEGIN, MD_END, body)
    if new == old:
        changes.append(Change(str(path), "unchanged", "context block"))
        return
    write_atomic(path, new)
    changes.append(Change(str(path), "created" if old is None else "updated", "context block"))
    manifest.record(path, created_file=old is None, created=[])


def uninstall_md(path: Path, manifest: Manifest, changes: list[Change]) -> None:
    old = read_text(path)
    if old is None:
        manifest.forget(path)
        return
    new = replace_block(old, MD_BEGIN, MD_END, None)
    if manifest.entry(path).get("created_file") and not new.strip():
        remove_file(path)
        changes.append(Change(str(path), "removed", "file created by install"))
    elif new != old:
        write_atomic(path, new)
        changes.append(Change(str(path), "updated", "removed the context block"))
    manifest.forget(path)


def install_owned(path: Path, text: str, manifest: Manifest, changes: list[Change], detail: str) -> None:
    old = read_text(path)
    if old is not None and HANDLER_PREFIX not in old:
        changes.append(Change(str(path), "skipped", "a file with this name exists and is not ours"))
        return
    if old == text:
        changes.append(Change(str(path), "unchanged", detail))
        return
    write_atomic(path, text)
    changes.append(Change(str(path), "created" if old is None else "updated", detail))
    manifest.record(path, created_file=old is None, created=[])


def uninstall_owned(path: Path, manifest: Manifest, changes: list[Change]) -> None:
    old = read_text(path)
    if old is not None and HANDLER_PREFIX in old:
        remove_file(path)
        changes.append(Change(str(path), "removed", "file written by install"))
    manifest.forget(path)


def found_on_path(names: tuple[str, ...], env: Mapping[str, str]) -> bool:
    path = env.get("PATH")
    return any(shutil.which(n, path=path) for n in names)


StatusFn = Callable[[Target], ToolStatus]
