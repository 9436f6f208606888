"""Project identity (upstream reference 2.5; issue 16): root, key, display name, remote, checkout.

Inside git, a project is its repository, not its folder: the key is `git:<root commit>`, the same
for every worktree of the repository, for a clone elsewhere, and after the checkout is moved or
renamed. Outside git (or in a `.nexus/project.toml` folder) the key is the folder, as before.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from nexus_memory.project.git import Checkout, normalize_remote, open_checkout, remote_url, root_commit

MAX_WALK = 256


@dataclass(frozen=True, slots=True)
class ProjectIdentity:
    root: Path
    display_name: str
    git_remote: str | None = None
    aliases: tuple[str, ...] = field(default_factory=tuple)
    #: What memories are scoped by (the `project` column): `git:<root commit>` in a repository,
    #: else the root folder. Empty means the root folder (identities built by hand).
    key: str = ""
    #: The git checkout (branch, HEAD, worktree), None outside git.
    checkout: Checkout | None = None
    #: Where a repository's key is cached (`id` computes it on first use: showing a name costs no git).
    key_cache: Path | None = None

    def cache_key(self) -> str:
        return str(self.root)

    @property
    def id(self) -> str:
        if self.key:
            return self.key
        if self.checkout is not None:
            return repository_key(self.checkout, self.key_cache)
        return str(self.root)

    def scope_keys(self) -> tuple[str, ...]:
        """The key and the keys memories of this project were filed under before it had one (every
        worktree folder of the repository; its remote or git dir before the first commit): recall reads
        all of them."""
        keys = [self.id, str(self.root)]
        if self.checkout is not None:
            keys += [str(p) for p in self.checkout.worktrees()]
            # the keys a repository has before its first commit (repository_key's fallbacks)
            url = remote_url(self.checkout.common_dir)
            keys += [*([f"remote:{normalize_remote(url)}"] if url else []), str(self.checkout.common_dir)]
        return tuple(dict.fromkeys(keys))

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


def resolve_project(cwd: Path, *, with_remote: bool = True, cache_dir: Path | None = None) -> ProjectIdentity:
    """The project of `cwd`. `cache_dir` keeps each repository's key (its root commit costs one `git`
    run, once per repository and place); without it the key is computed each time."""
    root = find_root(cwd.absolute())  # `.` has no parent to walk up to
    try:
        root = root.resolve()
    except OSError:
        pass
    data = _read_project_toml(root)
    name = data.get("name") if isinstance(data.get("name"), str) else None
    aliases_raw = data.get("aliases")
    aliases = tuple(str(a) for a in aliases_raw) if isinstance(aliases_raw, list) else ()
    checkout = open_checkout(root)
    remote = git_remote(root) if with_remote and checkout is None else None
    display = name or root.name or "unknown-project"
    if checkout is not None:
        url = remote_url(checkout.common_dir)
        remote = url if with_remote else None
        main = checkout.main_worktree
        if not name:  # every worktree of one repository shows one name
            display = (main.name if main is not None else checkout.common_dir.name.removesuffix(".git")) or display
        if url and not name and main is None:
            display = normalize_remote(url).rsplit("/", 1)[-1] or display
    return ProjectIdentity(root, str(display), remote, aliases, "", checkout, cache_dir)


#: Keys this process already knows: (common dir, cache dir) -> key.
_KEYS: dict[tuple[str, str], str] = {}


def repository_key(checkout: Checkout, cache_dir: Path | None) -> str:
    """`git:<root commit>`; a repository without commits (or without a working `git`) is known by its
    remote, else by its common dir, until it has one (that key is not cached)."""
    memo = (str(checkout.common_dir), str(cache_dir))
    if memo in _KEYS:
        return _KEYS[memo]
    key = _repository_key(checkout, cache_dir)
    if key.startswith("git:"):
        _KEYS[memo] = key
    return key


def _repository_key(checkout: Checkout, cache_dir: Path | None) -> str:
    import zlib

    cache: Path | None = None
    if cache_dir is not None:
        tag = str(checkout.common_dir).encode("utf-8", "replace")
        cache = cache_dir / f"{zlib.crc32(tag):08x}{zlib.adler32(tag):08x}.json"
        try:
            data = json.loads(cache.read_text(encoding="utf-8"))
            if data.get("common_dir") == str(checkout.common_dir) and str(data.get("key", "")).startswith("git:"):
                return str(data["key"])
        except (OSError, ValueError, AttributeError):
            pass
    root = root_commit(checkout.worktree) if checkout.head else None
    if root is None:
        url = remote_url(checkout.common_dir)
        return f"remote:{normalize_remote(url)}" if url else str(checkout.common_dir)
    key = f"git:{root}"
    if cache is not None:
        try:
            cache.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            tmp = cache.with_name(f"{cache.name}.{os.getpid()}.tmp")
            tmp.write_text(json.dumps({"common_dir": str(checkout.common_dir), "key": key}), encoding="utf-8")
            os.replace(tmp, cache)
        except OSError:
            pass
    return key
