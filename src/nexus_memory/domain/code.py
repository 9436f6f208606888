"""Memory that knows the code (issue 16), the pure rules: branches, code anchors, their states.

- A memory made on another branch is offered only when that branch's work is part of the current
  branch (merged, or the base it was made on), or when it is not about code (a rule, a preference).
- A memory that names a file of the repository (optionally a line span or a symbol) keeps an
  anchor: the path, a hash of the span, the commit. Re-checking an anchor against the working tree
  gives its state: verified, possibly stale (the span changed, with what changed), or deleted;
  a renamed file is followed (the I/O lives in project/anchors.py).
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

VERIFIED, STALE, DELETED, UNKNOWN = "verified", "possibly_stale", "deleted", "unknown"
#: Worst first: a memory's state is its worst anchor's.
SEVERITY = {DELETED: 3, STALE: 2, UNKNOWN: 1, VERIFIED: 0}
#: Kinds of memory that are not about code: they hold on every branch.
NOT_CODE_KINDS = frozenset({"rule"})
MAX_ANCHORS = 5
#: A span is kept as text (to say what changed and to find it again when it moved) up to this size.
SPAN_TEXT_MAX = 2000
SPAN_LINES_MAX = 80

_EXT = r"[A-Za-z][A-Za-z0-9]{0,9}"
_PATH = re.compile(
    r"(?<![\w./\\-])"
    r"(?P<path>(?:\.{0,2}/)?(?:[\w.@+-]+/)*[\w@+-][\w.@+-]*\." + _EXT + r")"
    r"(?:(?::|#L)(?P<start>\d{1,7})(?:-L?(?P<end>\d{1,7}))?|::(?P<symbol>[A-Za-z_][\w.]{0,80}))?"
    r"(?![\w/])"
)
_URLISH = re.compile(r"^[a-z]+://|^www\.", re.I)
_NOT_FILES = frozenset({"e.g", "i.e", "etc", "vs"})


class CodeRef(NamedTuple):  # a tuple: built for a fraction of a frozen dataclass's cost
    """A file named in a text: `src/app.py`, `src/app.py:10-20`, `app.py#L5`, `src/app.py::Store.get`."""

    path: str
    start: int | None = None
    end: int | None = None
    symbol: str | None = None


def code_refs(text: str, limit: int = 20) -> list[CodeRef]:
    """Candidate file references in `text`, in order, each path once (the caller checks they exist)."""
    out: dict[str, CodeRef] = {}
    for m in _PATH.finditer(text):
        path = m.group("path")
        if _URLISH.match(path) or path.lower() in _NOT_FILES or (path[0].isdigit() and "/" not in path):
            continue
        if path.startswith("./"):
            path = path[2:]
        start = int(m.group("start")) if m.group("start") else None
        end = int(m.group("end")) if m.group("end") else start
        if start is not None and end is not None and end < start:
            start, end = end, start
        ref = CodeRef(path, start, end, m.group("symbol"))
        if path not in out or (out[path].start is None and out[path].symbol is None):
            out[path] = ref
        if len(out) >= limit:
            break
    return list(out.values())


def content_hash(text: str) -> str:
    """64 bits (crc32 + adler32) of the text with line ends and trailing blanks normalised: enough to
    tell a change, and zlib is built in (the hook path avoids OpenSSL's load)."""
    data = "\n".join(line.rstrip() for line in text.splitlines()).strip("\n").encode("utf-8", "replace")
    return f"{zlib.crc32(data):08x}{zlib.adler32(data):08x}"


_DEF = r"^(?P<indent>[ \t]*)(?:export\s+|pub(?:\([^)]*\))?\s+|async\s+|static\s+|public\s+|private\s+)*" \
       r"(?:def|class|function|fn|func|struct|enum|trait|interface|type|impl|const|let|var)\s+{name}\b"


def symbol_span(lines: Sequence[str], symbol: str) -> tuple[int, int] | None:
    """1-based inclusive lines of `symbol`'s definition (`Class.method` looks inside the class), or None.

    The block ends before the next non-blank line indented no deeper than the definition, plus that
    line when it only closes the block (`}`, `end`): enough for Python, JS/TS, Go, Rust and Ruby."""
    start_at, stop_at = 0, len(lines)
    parts = symbol.split(".")
    span: tuple[int, int] | None = None
    for part in parts:
        pattern = re.compile(_DEF.format(name=re.escape(part)))
        span = None
        for i in range(start_at, stop_at):
            m = pattern.match(lines[i])
            if not m:
                continue
            indent = len(m.group("indent").expandtabs())
            end = i
            for j in range(i + 1, stop_at):
                line = lines[j]
                if not line.strip():
                    continue
                if len(line) - len(line.lstrip()) <= indent and not line.lstrip().startswith((")", "]")):
                    if line.strip() in ("}", "};", "end", "})", "});"):
                        end = j
                    break
                end = j
            span = (i + 1, end + 1)
            break
        if span is None:
            return None
        start_at, stop_at = span[0], span[1]
    return span


def span_text(lines: Sequence[str], start: int, end: int) -> str:
    return "\n".join(lines[max(start - 1, 0):min(end, len(lines))])


def find_block(lines: Sequence[str], block: str) -> tuple[int, int] | None:
    """Where a span's old text now sits in the file (it moved), or None."""
    want = [ln.rstrip() for ln in block.splitlines()]
    while want and not want[0].strip():
        want.pop(0)
    while want and not want[-1].strip():
        want.pop()
    if not want:
        return None
    have = [ln.rstrip() for ln in lines]
    first = want[0]
    for i, line in enumerate(have):
        if line == first and have[i:i + len(want)] == want:
            return i + 1, i + len(want)
    return None


def what_changed(old: str, new: str, limit: int = 160) -> str:
    """A short account of how a span changed: lines added and removed, and the first new line."""
    import difflib

    a, b = old.splitlines(), new.splitlines()
    added = removed = 0
    first_new = ""
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if tag == "equal":
            continue
        removed += i2 - i1
        added += j2 - j1
        if not first_new and j2 > j1:
            first_new = next((ln.strip() for ln in b[j1:j2] if ln.strip()), "")
    text = f"+{added} -{removed} lines"
    if first_new:
        text += f", now: {first_new}"
    return text if len(text) <= limit else text[: limit - 1] + "…"


def worst(states: Sequence[str]) -> str:
    return max(states, key=lambda s: SEVERITY.get(s, 1)) if states else UNKNOWN


def code_meta(metadata: Mapping[str, Any]) -> dict[str, Any]:
    code = metadata.get("code") if isinstance(metadata, Mapping) else None
    return code if isinstance(code, dict) else {}


def anchors_of(metadata: Mapping[str, Any]) -> list[dict[str, Any]]:
    anchors = code_meta(metadata).get("anchors")
    return [a for a in anchors if isinstance(a, dict) and isinstance(a.get("path"), str)] if isinstance(
        anchors, list) else []


def state_label(code: Mapping[str, Any]) -> str:
    """How a context pack marks a memory with anchors: `code verified`, `possibly stale: ...`, `stale: ...`."""
    state = code.get("state")
    notes = [str(n) for n in code.get("changes") or () if n][:2]
    if state == VERIFIED:
        return "code verified"
    if state == STALE:
        return "possibly stale" + (f": {'; '.join(notes)}" if notes else "")
    if state == DELETED:
        return "stale" + (f": {'; '.join(notes)}" if notes else ": its code was deleted")
    return ""


# ----------------------------------------------------------------------------------------- branches
class Made(NamedTuple):  # a tuple: built for a fraction of a frozen dataclass's cost
    """Where a memory was made: the branch and the commit checked out (None outside git)."""

    branch: str | None
    commit: str | None


def made_on(metadata: Mapping[str, Any]) -> Made:
    hook = metadata.get("hook") if isinstance(metadata, Mapping) else None
    if not isinstance(hook, Mapping):
        return Made(None, None)
    branch, commit = hook.get("branch"), hook.get("commit")
    return Made(branch if isinstance(branch, str) and branch else None,
                commit if isinstance(commit, str) and commit else None)


def branch_visible(kind: str, made: Made, current_branch: str | None, current_head: str | None,
                   merged: Callable[[Made], bool]) -> bool:
    """May a memory made on `made` be offered on the current branch?

    Yes when it carries no git facets (made outside git, or before issue 16), when it was made on
    this branch, when it is not about code (a rule, a preference), or when `merged` says its
    branch's work is part of the current history (project/scope.py answers that from git)."""
    if made.branch is None and made.commit is None:
        return True
    if kind in NOT_CODE_KINDS:
        return True
    if made.branch is not None and made.branch == current_branch:
        return True
    if current_head is None:  # a repository without commits: nothing to compare
        return True
    if made.commit is not None and made.commit == current_head and made.branch is None:
        return True
    return merged(made)
