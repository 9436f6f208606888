"""Code anchors against the working tree: made when a memory names a tracked file, re-checked later.

An anchor is `{path, lines | symbol, hash, text, commit, stat}` under `metadata.code.anchors`. A
check first compares the file's size and mtime with the ones it last saw: an untouched file is not
read again, so re-checking the memories of a prompt costs a few `stat` calls. Only a missing file
asks git (`git diff -M` from the anchor's commit, to follow a rename), once per commit and process.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from nexus_memory.domain import code as rules
from nexus_memory.domain.redaction import redact_text
from nexus_memory.project.git import Checkout, run_git

MAX_FILE_BYTES = 2_000_000


def _stat(path: Path) -> list[int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return [st.st_size, st.st_mtime_ns] if os.path.isfile(path) else None


def _lines(path: Path) -> list[str] | None:
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            return None
        return path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return None


def tracked(checkout: Checkout, paths: list[str]) -> set[str]:
    """Which of these repository-relative paths git tracks (one `git ls-files`); empty if git fails."""
    if not paths:
        return set()
    out = run_git(checkout.worktree, "ls-files", "-z", "--", *paths)
    return {p for p in (out or "").split("\0") if p}


def _relative(checkout: Checkout, cwd: Path, name: str) -> str | None:
    root = checkout.worktree
    for base in ((Path(name),) if os.path.isabs(name) else (cwd / name, root / name)):
        try:
            full = base.resolve()
            rel = full.relative_to(root.resolve())
        except (OSError, ValueError):
            continue
        if full.is_file():
            return rel.as_posix()
    return None


def make_anchors(text: str, checkout: Checkout | None, cwd: Path) -> list[dict[str, Any]]:
    """Anchors for the tracked files `text` names (at most MAX_ANCHORS). One `git ls-files` when it
    names an existing file; nothing at all (no git) when it names none."""
    if checkout is None or checkout.head is None:
        return []
    refs: dict[str, rules.CodeRef] = {}
    for ref in rules.code_refs(text):
        rel = _relative(checkout, cwd, ref.path)
        if rel is not None and rel not in refs:
            refs[rel] = ref
    if not refs:
        return []
    known = tracked(checkout, list(refs))
    out: list[dict[str, Any]] = []
    for rel, ref in refs.items():
        if rel not in known:
            continue
        anchor = anchor_for(checkout, rel, ref)
        if anchor is not None:
            out.append(anchor)
        if len(out) >= rules.MAX_ANCHORS:
            break
    return out


def anchor_for(checkout: Checkout, rel: str, ref: rules.CodeRef) -> dict[str, Any] | None:
    full = checkout.worktree / rel
    lines = _lines(full)
    stat = _stat(full)
    if lines is None or stat is None:
        return None
    anchor: dict[str, Any] = {"path": rel, "commit": checkout.head, "stat": stat, "state": rules.VERIFIED}
    span: tuple[int, int] | None = None
    if ref.symbol:
        span = rules.symbol_span(lines, ref.symbol)
        if span is not None:
            anchor["symbol"] = ref.symbol
    elif ref.start is not None:
        start = max(ref.start, 1)
        end = min(max(ref.end or start, start), start + rules.SPAN_LINES_MAX - 1, max(len(lines), 1))
        if start <= len(lines):
            span = (start, end)
    if span is not None:
        text = rules.span_text(lines, *span)
        anchor["lines"] = list(span)
        anchor["hash"] = rules.content_hash(text)
        if len(text) <= rules.SPAN_TEXT_MAX:
            anchor["text"] = redact_text(text)  # kept with the memory: secrets never are
    else:
        anchor["hash"] = rules.content_hash("\n".join(lines))
    return anchor


@dataclass
class Checker:
    """Re-checks anchors in one working tree; remembers git's renames per commit for its lifetime."""

    checkout: Checkout
    renames: dict[str, dict[str, str]] = field(default_factory=dict)

    def renamed(self, commit: str | None, path: str) -> str | None:
        if not commit:
            return None
        if commit not in self.renames:
            out = run_git(self.checkout.worktree, "diff", "-M", "--name-status", "-z", "--diff-filter=R", commit)
            table: dict[str, str] = {}
            parts = (out or "").split("\0")
            i = 0
            while i + 2 < len(parts):
                if parts[i].startswith("R"):
                    table[parts[i + 1]] = parts[i + 2]
                    i += 3
                else:
                    i += 1
            self.renames[commit] = table
        return self.renames[commit].get(path)

    def check(self, code: dict[str, Any]) -> tuple[dict[str, Any], bool]:
        """The code section with fresh anchor states; True when a state, path or span changed."""
        anchors = [dict(a) for a in rules.anchors_of({"code": code})]
        changed = False
        notes: list[str] = []
        for a in anchors:
            # the stat too: stored once after a file changed, it spares the next checks reading the file
            before = (a.get("state"), a.get("path"), a.get("lines"), a.get("stat"))
            state, note = self._check_one(a)
            a["state"] = state
            if note:
                notes.append(note)
            changed |= before != (a.get("state"), a.get("path"), a.get("lines"), a.get("stat"))
        state = rules.worst([str(a["state"]) for a in anchors])
        fresh = {**code, "anchors": anchors, "state": state, "changes": notes[:rules.MAX_ANCHORS]}
        changed |= code.get("state") != state or code.get("changes") != fresh["changes"]
        if changed:
            fresh["checked_at"] = datetime.now(UTC).isoformat(timespec="seconds")
        return fresh, changed

    def _check_one(self, a: dict[str, Any]) -> tuple[str, str]:
        path = str(a["path"])
        full = self.checkout.worktree / path
        stat = _stat(full)
        if stat is None:  # gone: git may know it under a new name (the anchor follows), else deleted
            new = self.renamed(a.get("commit"), path)
            if new is None or _stat(self.checkout.worktree / new) is None:
                return rules.DELETED, f"{path} deleted"
            a["renamed_from"], a["path"], a["stat"] = path, new, None
            path, full = new, self.checkout.worktree / new
            stat = _stat(full)
        if stat is not None and stat == a.get("stat") and a.get("state") in (rules.VERIFIED, rules.STALE):
            return str(a["state"]), self._note(a, a.get("state") == rules.STALE)
        lines = _lines(full)
        if lines is None:
            return rules.UNKNOWN, ""
        a["stat"] = stat
        short = str(a.get("commit") or "")[:7]
        if a.get("symbol"):
            span = rules.symbol_span(lines, str(a["symbol"]))
            if span is None:
                return rules.DELETED, f"{a['symbol']} deleted from {path}"
            text = rules.span_text(lines, *span)
            a["lines"] = list(span)
            if rules.content_hash(text) == a.get("hash"):
                return rules.VERIFIED, ""
            a["change"] = redact_text(rules.what_changed(str(a.get("text", "")), text)) if a.get("text") else "changed"
            return rules.STALE, self._note(a, True)
        if isinstance(a.get("lines"), list) and len(a["lines"]) == 2:
            start, end = int(a["lines"][0]), int(a["lines"][1])
            text = rules.span_text(lines, start, end)
            if rules.content_hash(text) == a.get("hash"):
                return rules.VERIFIED, ""
            moved = rules.find_block(lines, str(a.get("text", ""))) if a.get("text") else None
            if moved is not None:
                a["lines"] = list(moved)
                return rules.VERIFIED, ""
            a["change"] = (redact_text(rules.what_changed(str(a["text"]), text)) if a.get("text")
                           else f"changed since {short}")
            return rules.STALE, self._note(a, True)
        if rules.content_hash("\n".join(lines)) == a.get("hash"):
            return rules.VERIFIED, ""
        a["change"] = f"changed since {short}"
        return rules.STALE, self._note(a, True)

    @staticmethod
    def _note(a: dict[str, Any], stale: bool) -> str:
        if not stale:
            return ""
        where = str(a["path"])
        if a.get("symbol"):
            where += f"::{a['symbol']}"
        elif isinstance(a.get("lines"), list) and len(a["lines"]) == 2:
            where += f":{a['lines'][0]}-{a['lines'][1]}"
        # what changed quotes the file as it is now: redacted like everything that is stored or injected
        return redact_text(f"{where} {a.get('change') or 'changed'}")

