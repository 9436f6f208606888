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
    """Turns after the watermark and the watermark to save once they are stored."""
    try:
        st = transcript.stat()
    except OSError:
        return [], mark
    offset = int(mark.get("offset") or 0)
    with transcript.open("rb") as fh:
        head = fh.read(64).hex()
        # another file at the same path (a new inode, or a reused one with other first bytes), or shrunk;
        # the first bytes seen last time must still be the first bytes (a short file may have grown)
        if (mark.get("path") != str(transcript) or mark.get("inode") != st.st_ino
                or not head.startswith(str(mark.get("head") or "")) or st.st_size < offset):
            offset = 0
        fh.seek(offset)
        chunk = fh.read(MAX_READ_BYTES)
    turns: list[Turn] = []
    end = chunk.rfind(b"\n")
    base = {"path": str(transcript), "inode": st.st_ino, "head": head}
    if end < 0:
        return [], {**base, "offset": offset}
    for line in chunk[: end + 1].splitlines():
        if not line.strip():
            continue
        try:
            turn = parse_line(json.loads(line))
        except ValueError:
            continue
        if turn:
            turns.append(turn)
    return turns, {**base, "offset": offset + end + 1}


def format_turns(turns: list[Turn]) -> str:
    return "\n".join(f"{'User' if t.role == 'user' else 'Assistant'}: {t.text}" for t in turns)
