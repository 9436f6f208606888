"""Runtime state files (seed: state_root, state_file_path, read/write).

Improvements over the seed: writes are atomic (tmp + fsync + rename) and a
corrupt state file is moved aside with a clear report instead of failing.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from nexus_memory.domain.enums import RuntimeMode
from nexus_memory.domain.sessions import sanitize_component
from nexus_memory.domain.timeutil import from_iso, to_iso


@dataclass(frozen=True, slots=True)
class RuntimeState:
    agent_type: str
    session_key: str
    mode: RuntimeMode
    started_at: datetime
    updated_at: datetime

    def to_json(self) -> str:
        return json.dumps(
            {
                "agent_type": self.agent_type,
                "session_key": self.session_key,
                "mode": self.mode.value,
                "started_at": to_iso(self.started_at),
                "updated_at": to_iso(self.updated_at),
            },
            indent=2,
        )


class CorruptStateFile(Exception):
    """The state file could not be parsed; it has been moved to `moved_to`."""

    def __init__(self, path: Path, moved_to: Path, reason: str) -> None:
        self.path, self.moved_to, self.reason = path, moved_to, reason
        super().__init__(f"runtime state {path} was unreadable ({reason}); moved to {moved_to}")


def sessions_dir(state_root: Path) -> Path:
    return state_root / "sessions"


def state_file_path(state_root: Path, agent_type: str, session_key: str) -> Path:
    """`<root>/sessions/<sanitized agent>__<sanitized session>.json` (directory created)."""
    root = sessions_dir(state_root)
    root.mkdir(parents=True, exist_ok=True)
    return root / f"{sanitize_component(agent_type)}__{sanitize_component(session_key)}.json"


def read_runtime_state(path: Path) -> RuntimeState | None:
    """None when absent. Raises CorruptStateFile after moving a bad file aside."""
    try:
        text = path.read_text("utf-8")
    except FileNotFoundError:
        return None
    try:
        data = json.loads(text)
        started = from_iso(data["started_at"])
        updated = from_iso(data["updated_at"])
        if started is None or updated is None:
            raise ValueError("unreadable timestamps")
        return RuntimeState(
            agent_type=str(data["agent_type"]),
            session_key=str(data["session_key"]),
            mode=RuntimeMode(data["mode"]),
            started_at=started,
            updated_at=updated,
        )
    except (ValueError, KeyError, TypeError) as exc:
        moved = path.with_name(f"{path.name}.corrupt-{os.getpid()}-{abs(hash(text)) % 10**8}")
        try:
            path.replace(moved)
        except FileNotFoundError:
            return None
        raise CorruptStateFile(path, moved, f"{type(exc).__name__}: {exc}") from None


def write_runtime_state(path: Path, state: RuntimeState) -> None:
    atomic_write_text(path, state.to_json())


def atomic_write_text(path: Path, text: str, *, mode: int | None = None) -> None:
    """Write to a temp file in the same folder, fsync, then rename over the target."""
    import tempfile  # not at module level: it pulls in random, shutil and more on every start

    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        if mode is not None:
            os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def remove_runtime_state(path: Path) -> bool:
    try:
        path.unlink()
        return True
    except FileNotFoundError:
        return False


def list_state_files(state_root: Path) -> list[Path]:
    folder = sessions_dir(state_root)
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.glob("*.json") if p.is_file())
