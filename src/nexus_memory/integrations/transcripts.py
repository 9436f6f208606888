"""Incremental transcript reading (Claude Code, Codex, Gemini JSONL) with a per-session watermark.

The watermark is the byte offset after the last complete line read; it lives in a small
JSON file per (agent, session) and is advanced only after what was read has been stored
(or spooled), under a lock, so two hooks of one session never read the same lines twice.
A transcript that shrank or was replaced (different inode) is read from the start.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nexus_memory.domain.sessions import sanitize_component
from nexus_memory.integrations.events import strip_echoes

ENTRY_MAX_CHARS = 8000  # as a finding keeps it (capture.FINDING_MAX_CHARS), so the seen hashes agree
MAX_READ_BYTES = 4 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class Turn:
    role: str  # user | assistant
    text: str


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        out = []
        for part in content:
            if isinstance(part, str):
                out.append(part)
            elif isinstance(part, dict) and part.get("type") in (None, "text", "input_text", "output_text"):
                text = part.get("text")
                if isinstance(text, str):
                    out.append(text)
        return "\n".join(out)
    if isinstance(content, dict):
        return _text_of(content.get("parts") or content.get("text") or "")
    return ""


def parse_line(obj: Any) -> Turn | None:
    """A user/assistant turn from one transcript record of any of the three formats."""
    if not isinstance(obj, dict):
        return None
    kind = obj.get("type")
    if kind in ("response_item", "event_msg") and isinstance(obj.get("payload"), dict):  # Codex rollout
        payload = obj["payload"]
        if payload.get("type") == "message" and payload.get("role") in ("user", "assistant"):
            return _turn(payload["role"], _text_of(payload.get("content")))
        if payload.get("type") == "agent_message":
            return _turn("assistant", str(payload.get("message") or ""))
        return None
    message = obj.get("message")
    if kind in ("user", "assistant") and isinstance(message, dict):  # Claude Code
        if obj.get("isMeta") or obj.get("isSidechain"):
            return None
        return _turn(str(message.get("role") or kind), _text_of(message.get("content")))
    if kind in ("user", "gemini", "model"):  # Gemini CLI
        return _turn("user" if kind == "user" else "assistant", _text_of(obj.get("content")))
    if obj.get("role") in ("user", "assistant", "model"):
        return _turn("assistant" if obj["role"] != "user" else "user", _text_of(obj.get("content")))
    return None


def _turn(role: str, text: str) -> Turn | None:
    cleaned = strip_echoes(text or "").strip()
    if not cleaned or cleaned.startswith(("<command-", "<local-command", "<system-reminder>")):
        return None
    if len(cleaned) > ENTRY_MAX_CHARS:
        cleaned = cleaned[:ENTRY_MAX_CHARS] + " …"
    return Turn("assistant" if role != "user" else "user", cleaned)


class Watermarks:
    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def _path(self, agent: str, session: str) -> Path:
        return self.folder / f"{sanitize_component(agent)}__{sanitize_component(session)[:120]}.json"

    @contextlib.contextmanager
    def locked(self, agent: str, session: str) -> Iterator[Path]:
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self._path(agent, session)
        fd = os.open(str(path) + ".lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield path
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def forget(self, agent: str, session: str) -> None:
        """The session is over: its watermark and lock file go."""
        path = self._path(agent, session)
        for p in (path, Path(str(path) + ".lock")):
            p.unlink(missing_ok=True)

    @staticmethod
    def read(path: Path) -> dict[str, Any]:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            return data if isinstance(data, dict) else {}
        except (OSError, ValueError):
            return {}

    @staticmethod
    def write(path: Path, data: dict[str, Any]) -> None:
        tmp = path.with_name(path.name + f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(data), encoding="utf-8")
        os.replace(tmp, path)


def read_new(transcript: Path, mark: dict[str, Any]) -> tuple[list[Turn], dict[str, Any]]:
    """Turns after the watermark and the watermark to save once they are stored.

    After skipping an oversized line the read goes on from its end (a few lines at most per call).
    """
    turns: list[Turn] = []
    current = mark
    for _ in range(4):
        more, new = _read_once(transcript, current)
        turns += more
        if new.get("scan") or new.get("offset") == current.get("offset"):
            break
        try:
            if int(new["offset"]) >= transcript.stat().st_size:
                break
        except OSError:
            break
        current = new
    return turns, new


def _read_once(transcript: Path, mark: dict[str, Any]) -> tuple[list[Turn], dict[str, Any]]:
    """One read from the watermark: the complete lines of at most MAX_READ_BYTES.

    A line longer than MAX_READ_BYTES (a pasted screenshot) is skipped: the watermark moves past its
    end (or, while it is still being written, remembers how far it was scanned), and the skip is
    counted in the mark (`skipped_lines`, `skipped_bytes`, `last_skip_offset`). Without that the mark
    would stay before the line for good and every later turn would be lost.
    """
    try:
        st = transcript.stat()
    except OSError:
        return [], mark
    offset = int(mark.get("offset") or 0)
    with transcript.open("rb") as fh:
        first = fh.read(64)
        head = _fingerprint(first)
        # another file at the same path (a new inode, or a reused one with other first bytes), or shrunk;
        # the first bytes seen last time must still be the first bytes (a short file may have grown)
        same = (mark.get("path") == str(transcript) and mark.get("inode") == st.st_ino
                and _same_start(first, str(mark.get("head") or "")) and st.st_size >= offset)
        if not same:
            offset = 0
        base = {"path": str(transcript), "inode": st.st_ino, "head": head,
                **{k: mark[k] for k in _SKIP_KEYS if same and k in mark}}
        scan_from = int(mark.get("scan") or 0) if same else 0
        if scan_from > offset:  # inside an oversized line: look for its end only
            return [], _skip_long_line(fh, base, offset, scan_from)
        fh.seek(offset)
        chunk = fh.read(MAX_READ_BYTES)
        end = chunk.rfind(b"\n")
        if end < 0:
            if len(chunk) < MAX_READ_BYTES:
                return [], {**base, "offset": offset}  # a line still being written
            return [], _skip_long_line(fh, base, offset, offset + len(chunk))
    turns: list[Turn] = []
    for line in chunk[: end + 1].splitlines():
        if not line.strip():
            continue
        try:
            turn = parse_line(json.loads(line))
        except (ValueError, RecursionError):
            continue
        if turn:
            turns.append(turn)
    return turns, {**base, "offset": offset + end + 1}


def _fingerprint(first: bytes) -> str:
    """`<length>:<hash>` of a transcript's first bytes: identifies the file without keeping its text in the
    state folder (the first line may hold a secret; the mark used to keep it in hex)."""
    from nexus_memory.domain.hashing import sha256_hex

    return f"{len(first)}:{sha256_hex(first)[:32]}"


def _same_start(first: bytes, mark: str) -> bool:
    """The bytes seen last time are still the first bytes (a short file may have grown since)."""
    size, _, _digest = mark.partition(":")
    if not size.isdigit() or int(size) > len(first):
        return False
    return _fingerprint(first[:int(size)]) == mark


_SKIP_KEYS = ("skipped_lines", "skipped_bytes", "last_skip_offset")
_SCAN_BLOCK = 1024 * 1024


def _skip_long_line(fh: Any, base: dict[str, Any], offset: int, scan_from: int) -> dict[str, Any]:
    """Find the end of the oversized line that starts at `offset`, scanning from `scan_from`."""
    fh.seek(scan_from)
    pos = scan_from
    budget = 8 * MAX_READ_BYTES  # per call: a huge line is crossed over a few Stop events, never in one read
    while budget > 0:
        block = fh.read(_SCAN_BLOCK)
        if not block:
            return {**base, "offset": offset, "scan": pos}  # not finished yet: resume here next time
        nl = block.find(b"\n")
        if nl >= 0:
            end = pos + nl + 1
            return {**base, "offset": end, "skipped_lines": int(base.get("skipped_lines") or 0) + 1,
                    "skipped_bytes": int(base.get("skipped_bytes") or 0) + (end - offset),
                    "last_skip_offset": offset}
        pos += len(block)
        budget -= len(block)
    return {**base, "offset": offset, "scan": pos}


def format_turns(turns: list[Turn]) -> str:
    return "\n".join(f"{'User' if t.role == 'user' else 'Assistant'}: {t.text}" for t in turns)
