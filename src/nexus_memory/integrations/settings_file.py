"""Surgical edits of other tools' settings files (JSON, JSON with comments, TOML).

Rules (ARCHITECTURE habit 7): a malformed file is refused and left untouched; only the
members we add or remove change, every other byte stays as it was (edits are made on the
text, at the spans a small JSON scanner finds, never by re-serialising the document);
writes go to a temporary file in the same folder and are renamed over the original,
keeping its mode; the previous content is kept as `<file>.nexus-backup`.

Comments are kept: Gemini CLI reads its settings.json through strip-json-comments (`//` and
`/* */`, bundle of @google/gemini-cli 0.61.0) and writes it back with comment-json, so users
have them; OpenCode reads JSONC too. A file the tool itself reads is never refused for them.
"""

from __future__ import annotations

import json
import os
import re
import stat
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nexus_memory.errors import IntegrationError

BACKUP_SUFFIX = ".nexus-backup"


# --------------------------------------------------------------------------- files
def read_text(path: Path) -> str | None:
    """The file's text, None when it does not exist; unreadable files are refused."""
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise IntegrationError(f"cannot read {path}: {exc}", hint="fix its permissions or encoding, then retry") from None


def write_atomic(path: Path, text: str, *, backup: bool = True, default_mode: int = 0o644) -> None:
    """tmp + fsync + rename in the same folder, keeping the old mode; old content -> backup."""
    old = read_text(path)
    if old == text:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    mode = default_mode
    if old is not None:
        mode = stat.S_IMODE(path.stat().st_mode)
        if backup:
            _write_plain(path.with_name(path.name + BACKUP_SUFFIX), old, mode)
    _write_plain(path, text, mode)


def _write_plain(path: Path, text: str, mode: int) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=str(path.parent))
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def remove_file(path: Path, *, backup: bool = True) -> bool:
    old = read_text(path)
    if old is None:
        return False
    if backup:
        _write_plain(path.with_name(path.name + BACKUP_SUFFIX), old, stat.S_IMODE(path.stat().st_mode))
    path.unlink()
    return True


# --------------------------------------------------------------------------- comments
def blank_comments(text: str) -> str:
    """`//` and `/* */` comments outside strings replaced by spaces (newlines kept): same offsets."""
    if "/" not in text:
        return text
    out = list(text)
    i, n, in_str = 0, len(text), False
    while i < n:
        c = text[i]
        if in_str:
            if c == "\\":
                i += 2
                continue
            if c == '"':
                in_str = False
        elif c == '"':
            in_str = True
        elif c == "/" and text.startswith("//", i):
            end = text.find("\n", i)
            end = n if end < 0 else end
            out[i:end] = " " * (end - i)
            i = end
            continue
        elif c == "/" and text.startswith("/*", i):
            end = text.find("*/", i + 2)
            end = n if end < 0 else end + 2
            out[i:end] = ["\n" if ch == "\n" else " " for ch in text[i:end]]
            i = end
            continue
        i += 1
    return "".join(out)


def load_json(text: str) -> Any:
    """json.loads that also reads JSON with comments (raises ValueError like json.loads)."""
    return json.loads(blank_comments(text))


# --------------------------------------------------------------------------- JSON scanning
@dataclass
class Node:
    """A JSON value's span in the text; members/items for containers."""

    kind: str  # object | array | scalar
    start: int
    end: int  # exclusive
    members: dict[str, tuple[int, Node]] = field(default_factory=dict)  # key -> (key start, value node)
    items: list[Node] = field(default_factory=list)


_WS = " \t\r\n"
_NUMBER = re.compile(r"-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?")


class _Scanner:
    def __init__(self, text: str) -> None:
        self.text = text
        self.i = 0

    def ws(self) -> None:
        t = self.text
        while self.i < len(t) and t[self.i] in _WS:
            self.i += 1

    def fail(self, what: str) -> IntegrationError:
        line = self.text.count("\n", 0, self.i) + 1
        return IntegrationError(f"{what} at line {line}", hint="")

    def value(self) -> Node:
        self.ws()
        if self.i >= len(self.text):
            raise self.fail("unexpected end of the document")
        ch = self.text[self.i]
        if ch == "{":
            return self.obj()
        if ch == "[":
            return self.arr()
        start = self.i
        if ch == '"':
            self.string()
        elif self.text.startswith(("true", "null"), self.i):
            self.i += 4
        elif self.text.startswith("false", self.i):
            self.i += 5
        else:
            m = _NUMBER.match(self.text, self.i)
            if not m or m.end() == self.i:
                raise self.fail(f"unexpected character {ch!r}")
            self.i = m.end()
        return Node("scalar", start, self.i)

    def string(self) -> str:
        start = self.i
        self.i += 1
        t = self.text
        while self.i < len(t):
            c = t[self.i]
            if c == "\\":
                self.i += 2
                continue
            if c == '"':
                self.i += 1
                return str(json.loads(t[start : self.i]))
            self.i += 1
        raise self.fail("unterminated string")

    def obj(self) -> Node:
        node = Node("object", self.i, -1)
        self.i += 1
        self.ws()
        if self.text[self.i : self.i + 1] == "}":
            self.i += 1
            node.end = self.i
            return node
        while True:
            self.ws()
            if self.text[self.i : self.i + 1] != '"':
                raise self.fail("expected a quoted key")
            key_start = self.i
            key = self.string()
            self.ws()
            if self.text[self.i : self.i + 1] != ":":
                raise self.fail("expected ':'")
            self.i += 1
            node.members[key] = (key_start, self.value())
            self.ws()
            c = self.text[self.i : self.i + 1]
            self.i += 1
            if c == "}":
                node.end = self.i
                return node
            if c != ",":
                raise self.fail("expected ',' or '}'")

    def arr(self) -> Node:
        node = Node("array", self.i, -1)
        self.i += 1
        self.ws()
        if self.text[self.i : self.i + 1] == "]":
            self.i += 1
            node.end = self.i
            return node
        while True:
            node.items.append(self.value())
            self.ws()
            c = self.text[self.i : self.i + 1]
            self.i += 1
            if c == "]":
                node.end = self.i
                return node
            if c != ",":
                raise self.fail("expected ',' or ']'")


def parse_json(text: str, path: Path | str) -> tuple[Any, Node]:
    """The document and its span tree; anything but a JSON object is refused."""
    text = blank_comments(text)  # spans stay where they are in the real text
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise IntegrationError(
            f"{path} is not valid JSON ({exc})",
            hint="fix the file by hand (nothing was changed), then rerun the command",
        ) from None
    if not isinstance(data, dict):
        raise IntegrationError(f"{path} does not hold a JSON object", hint="fix the file by hand, then rerun")
    scanner = _Scanner(text)
    try:
        root = scanner.value()
    except IntegrationError as exc:
        raise IntegrationError(f"{path}: {exc.message}", hint="fix the file by hand, then rerun") from None
    return data, root


# --------------------------------------------------------------------------- JSON editing
class JsonDoc:
    """A JSON document edited in place, one surgical text change at a time."""

    def __init__(self, text: str | None, path: Path | str) -> None:
        self.path = path
        self.text = text if text is not None and text.strip() else "{}\n"
        self.data, self.root = parse_json(self.text, path)
        self.indent = _detect_indent(self.text)

    def _reparse(self) -> None:
        self.data, self.root = parse_json(self.text, self.path)

    def node(self, keys: Sequence[str | int]) -> Node | None:
        node: Node | None = self.root
        for key in keys:
            if node is None:
                return None
            if isinstance(key, int):
                node = node.items[key] if node.kind == "array" and 0 <= key < len(node.items) else None
            else:
                found = node.members.get(key) if node.kind == "object" else None
                node = found[1] if found else None
        return node

    def get(self, keys: Sequence[str | int]) -> Any:
        value: Any = self.data
        for key in keys:
            try:
                value = value[key]
            except (KeyError, IndexError, TypeError):
                return None
        return value

    def _level_of(self, node: Node) -> str:
        line_start = self.text.rfind("\n", 0, node.start) + 1
        prefix = self.text[line_start : node.start]
        return prefix[: len(prefix) - len(prefix.lstrip(" \t"))]

    def _render(self, value: Any, base: str) -> str:
        rendered = json.dumps(value, indent=self.indent, ensure_ascii=False)
        return rendered.replace("\n", "\n" + base)

    def _insert_into(self, container: Node, rendered_member: str) -> None:
        """Append a member/item (already rendered, without indentation) at a container's end."""
        base = self._level_of(container)
        inner = base + (self.indent if isinstance(self.indent, str) else " " * (self.indent or 0))
        close = container.end - 1
        empty = not (container.members if container.kind == "object" else container.items)
        if not empty:
            first = container.items[0].start if container.kind == "array" else min(
                ks for ks, _ in container.members.values())
            if self.text.rfind("\n", container.start, first) >= 0:
                inner = self._level_of_line(first)
        body = rendered_member.replace("\n", "\n" + inner)
        if self.indent is None:
            piece = body if empty else ", " + body
            self.text = self.text[:close] + piece + self.text[close:]
        elif empty:
            kept = self.text[container.start + 1 : close].rstrip()  # comments in an empty container stay
            self.text = (self.text[: container.start + 1] + kept + "\n" + inner + body + "\n" + base
                         + self.text[close:])
        else:
            last = container.items[-1] if container.kind == "array" else max(
                (v for _, v in container.members.values()), key=lambda n: n.end)
            line_end = self.text.find("\n", last.end, close)
            rest = self.text[last.end : line_end] if line_end >= 0 else ""
            if rest.strip() and not blank_comments(rest).strip():
                # `"a": 1 // why`: the comma goes after the value, our member after the comment
                self.text = (self.text[: last.end] + "," + rest + "\n" + inner + body
                             + self.text[line_end:])
            else:
                self.text = self.text[: last.end] + ",\n" + inner + body + self.text[last.end :]
        self._reparse()

    def ensure(self, keys: Sequence[str], default: Any) -> bool:
        """Make sure the object path exists, creating the last key with `default`. True if created."""
        parent = self.root
        for depth, key in enumerate(keys):
            found = parent.members.get(key)
            if found is None:
                value = default if depth == len(keys) - 1 else {}
                for later in reversed(keys[depth + 1 :]):
                    value = {later: value}
                self._insert_into(parent, json.dumps(key) + ": " + self._render(value, ""))
                return True
            parent = found[1]
            if parent.kind != "object" and depth < len(keys) - 1:
                raise IntegrationError(
                    f"{self.path}: '{'.'.join(keys[: depth + 1])}' is not an object",
                    hint="fix the file by hand, then rerun")
        return False

    def set_member(self, keys: Sequence[str], key: str, value: Any) -> None:
        """Add or replace `key` in the object at `keys` (which must exist)."""
        parent = self.node(list(keys))
        if parent is None or parent.kind != "object":
            raise IntegrationError(f"{self.path}: '{'.'.join(keys)}' is not an object", hint="fix it by hand")
        found = parent.members.get(key)
        if found is None:
            self._insert_into(parent, json.dumps(key) + ": " + self._render(value, ""))
            return
        node = found[1]
        base = self._level_of_line(found[0])
        self.text = self.text[: node.start] + self._render(value, base) + self.text[node.end :]
        self._reparse()

    def _level_of_line(self, pos: int) -> str:
        line_start = self.text.rfind("\n", 0, pos) + 1
        prefix = self.text[line_start:pos]
        return prefix[: len(prefix) - len(prefix.lstrip(" \t"))]

    def append(self, keys: Sequence[str | int], value: Any) -> None:
        arr = self.node(keys)
        if arr is None or arr.kind != "array":
            raise IntegrationError(f"{self.path}: '{'.'.join(map(str, keys))}' is not a list", hint="fix it by hand")
        self._insert_into(arr, self._render(value, ""))

    def remove(self, keys: Sequence[str | int]) -> None:
        """Remove one member or item with the separator that belongs to it."""
        *parent_keys, last = keys
        parent = self.node(parent_keys)
        if parent is None:
            return
        if parent.kind == "array" and isinstance(last, int):
            spans = [(n.start, n.end) for n in parent.items]
            idx = last
        elif parent.kind == "object" and isinstance(last, str) and last in parent.members:
            ordered = sorted(parent.members.items(), key=lambda kv: kv[1][0])
            spans = [(ks, v.end) for _, (ks, v) in ordered]
            idx = [k for k, _ in ordered].index(last)
        else:
            return
        if not 0 <= idx < len(spans):
            return
        start, end = spans[idx]
        if len(spans) == 1:
            # the only element: the container becomes empty, keeping its brackets and any comments
            open_pos, close_pos = parent.start + 1, parent.end - 1
            before, after = self.text[open_pos:start], self.text[end:close_pos]
            if blank_comments(before + after) == before + after:
                self.text = self.text[:open_pos] + self.text[close_pos:]
            else:
                self.text = self.text[:open_pos] + before.rstrip() + after.rstrip() + "\n" + \
                    self._level_of_line(parent.start) + self.text[close_pos:]
        elif idx > 0:
            # from the end of the previous element (its comma included) to our end; a comment that
            # stood after that comma (`"a": 1, // why`) stays on the previous element's line
            prev_end = spans[idx - 1][1]
            seg = self.text[prev_end:start]
            keep = seg.replace(",", "", 1).rstrip() if blank_comments(seg) != seg else ""
            self.text = self.text[:prev_end] + keep + self.text[end:]
        else:
            # first of several: up to the start of the next one
            self.text = self.text[:start] + self.text[spans[1][0] :]
        self._reparse()


def _detect_indent(text: str) -> str | int | None:
    for line in text.splitlines()[1:]:
        stripped = line.lstrip(" \t")
        if stripped and len(stripped) < len(line):
            ws = line[: len(line) - len(stripped)]
            return "\t" if ws.startswith("\t") else len(ws)
    if "\n" not in text.strip():
        return None if len(text.strip()) > 2 else 2
    return 2


# --------------------------------------------------------------------------- text blocks
def replace_block(text: str, begin: str, end: str, body: str | None) -> str:
    """Insert, replace or (body None) remove a marker-delimited block; other text untouched."""
    start = text.find(begin)
    stop = text.find(end, start + len(begin)) if start >= 0 else -1
    if start >= 0 and stop >= 0:
        after = stop + len(end)
        if after < len(text) and text[after] == "\n":
            after += 1
        if body is None:
            before = text[:start]
            if before.endswith("\n\n") and start > 0:
                before = before[:-1]
            return before + text[after:]
        return text[:start] + begin + "\n" + body + end + "\n" + text[after:]
    if body is None:
        return text
    sep = "" if not text or text.endswith("\n\n") else ("\n" if text.endswith("\n") else "\n\n")
    return text + sep + begin + "\n" + body + end + "\n"
