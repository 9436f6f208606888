"""Project identity (upstream reference 2.5): root, display name, remote."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

MAX_WALK = 256


@dataclass(frozen=True, slots=True)
class ProjectIdentity:
    root: Path
    display_name: str
    git_remote: str | None = None
    aliases: tuple[str, ...] = field(default_factory=tuple)

    def cache_key(self) -> str:
        return str(self.root)

    @property
    def nexus_dir(self) -> Path:
        return self.root / ".nexus"


def _read_project_toml(root: Path) -> dict[str, object]:
    path = root / ".nexus" / "project.toml"
    if not path.is_file():
        return {}
    import tomllib  # only when a project has a .nexus/project.toml: every hook resolves its project

    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except (OSError, tomllib.TOMLDecodeError):
        return {}


def find_root(cwd: Path) -> Path:
    """First ancestor (at most 256 up) holding `.nexus/project.toml` or `.git`; else cwd."""
    current = cwd
    for _ in range(MAX_WALK):
        if (current / ".nexus" / "project.toml").is_file() or (current / ".git").exists():
            return current
        if current.parent == current:
            break
        current = current.parent
    return cwd


def git_remote(root: Path, timeout: float = 2.0) -> str | None:
    import subprocess  # ~4 ms to import: only when a remote is asked for (never on the hook path)

    try:
        out = subprocess.run(
            ["git", "config", "--get", "remote.origin.url"], cwd=root, capture_output=True, text=True,
            timeout=timeout, check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    value = out.stdout.strip()
    return value or None


def resolve_project(cwd: Path, *, with_remote: bool = True) -> ProjectIdentity:
    root = find_root(cwd)
    try:
        root = root.resolve()
    except OSError:
        pass
    data = _read_project_toml(root)
    name = data.get("name") if isinstance(data.get("name"), str) else None
    aliases_raw = data.get("aliases")
    aliases = tuple(str(a) for a in aliases_raw) if isinstance(aliases_raw, list) else ()
    display = name or root.name or "unknown-project"
    return ProjectIdentity(root, str(display), git_remote(root) if with_remote else None, aliases)
