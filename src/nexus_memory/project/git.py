"""A git checkout, read from its files: git dir, common dir, HEAD, branch, refs, worktrees.

The hook path reads these on every prompt, so nothing here starts `git` except the few helpers at
the bottom (`run_git`), which have a timeout and fail open (None). Reading `.git/HEAD` and a ref
file costs microseconds; starting git costs milliseconds (docs/code-aware.md).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import NamedTuple

#: Seconds a git subprocess may take before we give up on it (and carry on without its answer).
GIT_TIMEOUT = 2.0
_HEX = frozenset("0123456789abcdef")


def is_sha(text: str | None) -> bool:
    return bool(text) and len(text or "") in (40, 64) and set(text or "") <= _HEX


class Checkout(NamedTuple):  # a tuple: built for a fraction of a frozen dataclass's cost
    """One working tree of a repository: where it is, its git dirs, and what is checked out."""

    worktree: Path  # the working tree's root
    git_dir: Path  # this worktree's git dir (`.git`, or `.git/worktrees/<name>` for a linked worktree)
    common_dir: Path  # the repository's shared git dir: one for every worktree of it
    branch: str | None  # None on a detached HEAD
    head: str | None  # the commit checked out; None in a repository without commits

    @property
    def main_worktree(self) -> Path | None:
        """The main working tree (None for a bare repository's linked worktrees)."""
        return self.common_dir.parent if self.common_dir.name == ".git" else None

    def ref(self, branch: str) -> str | None:
        """The commit a local branch points at, from its ref file or packed-refs; None if unknown."""
        return read_ref(self.common_dir, f"refs/heads/{branch}")

    def default_branch(self) -> str | None:
        """The branch others fork from: origin's HEAD, else the first of main, master, trunk that exists."""
        origin = _read(self.common_dir / "refs" / "remotes" / "origin" / "HEAD") or ""
        if origin.startswith("ref: refs/remotes/origin/"):
            return origin[len("ref: refs/remotes/origin/"):]
        return next((b for b in ("main", "master", "trunk") if self.ref(b)), None)

    def worktrees(self) -> list[Path]:
        """Every working tree of the repository (main first), from the common dir's records."""
        out: list[Path] = []
        main = self.main_worktree
        if main is not None:
            out.append(main)
        try:
            entries = sorted((self.common_dir / "worktrees").iterdir())
        except OSError:
            entries = []
        for entry in entries:
            try:
                gitfile = Path((entry / "gitdir").read_text(encoding="utf-8").strip())
            except OSError:
                continue
            root = gitfile.parent if gitfile.name == ".git" else gitfile
            if root not in out:
                out.append(root)
        if self.worktree not in out:
            out.append(self.worktree)
        return out


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8", errors="replace").strip()
    except OSError:
        return None


def read_ref(common_dir: Path, ref: str) -> str | None:
    loose = _read(common_dir / ref)
    if loose and is_sha(loose):
        return loose
    packed = _read(common_dir / "packed-refs")
    if packed:
        for line in packed.splitlines():
            sha, _, name = line.partition(" ")
            if name == ref and is_sha(sha):
                return sha
    return None


def open_checkout(root: Path) -> Checkout | None:
    """The checkout whose working tree is `root` (a `.git` folder or a `gitdir:` file there); None otherwise."""
    dot = root / ".git"
    if dot.is_dir():
        git_dir = dot
    elif dot.is_file():
        text = _read(dot) or ""
        if not text.startswith("gitdir:"):
            return None
        git_dir = Path(text[len("gitdir:"):].strip())
        if not git_dir.is_absolute():
            git_dir = root / git_dir
    else:
        return None
    try:
        git_dir = git_dir.resolve()
    except OSError:
        return None
    common_rel = _read(git_dir / "commondir")
    common = git_dir / common_rel if common_rel else git_dir
    try:
        common = common.resolve()
    except OSError:
        return None
    head_text = _read(git_dir / "HEAD")
    if head_text is None:
        return None
    branch: str | None = None
    head: str | None = None
    if head_text.startswith("ref:"):
        ref = head_text[4:].strip()
        if ref.startswith("refs/heads/"):
            branch = ref[len("refs/heads/"):]
        head = read_ref(git_dir, ref) if (git_dir / ref).is_file() else read_ref(common, ref)
    elif is_sha(head_text):
        head = head_text
    return Checkout(root, git_dir, common, branch, head)


# ----------------------------------------------------------------------------------------- git itself
def run_git(cwd: Path, *args: str, timeout: float | None = None, stdin: str | None = None) -> str | None:
    """`git <args>` in `cwd`: its stdout, or None when git is missing, fails, or runs past `timeout`
    (default GIT_TIMEOUT)."""
    import subprocess  # ~4 ms to import: only when git is asked

    timeout = GIT_TIMEOUT if timeout is None else timeout
    env = {**os.environ, "GIT_OPTIONAL_LOCKS": "0", "LC_ALL": "C"}  # never take the index lock of a running git
    try:
        out = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, timeout=timeout,
                             check=False, env=env, input=stdin, errors="replace")
    except (OSError, subprocess.TimeoutExpired, ValueError):
        return None
    return out.stdout if out.returncode == 0 else None


def root_commit(cwd: Path) -> str | None:
    """The first commit of the history HEAD descends from along first parents: the repository's birth
    certificate, the same in every clone, every worktree and wherever the checkout is moved."""
    out = run_git(cwd, "rev-list", "--first-parent", "--max-parents=0", "HEAD")
    lines = [ln.strip() for ln in (out or "").splitlines() if is_sha(ln.strip())]
    return lines[-1] if lines else None


def remote_url(common_dir: Path) -> str | None:
    """`remote.origin.url` from the repository's config file (no subprocess)."""
    text = _read(common_dir / "config")
    if not text:
        return None
    section = ""
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("["):
            section = line.strip("[]").replace('"', "").strip()
        elif section == "remote origin" and line.split("=", 1)[0].strip() == "url" and "=" in line:
            return line.split("=", 1)[1].strip() or None
    return None


def normalize_remote(url: str) -> str:
    """`git@github.com:o/r.git`, `https://user@github.com/o/r` -> `github.com/o/r` (credentials dropped)."""
    u = url.strip()
    if "://" in u:
        u = u.split("://", 1)[1]
        u = u.split("@", 1)[1] if "@" in u.split("/", 1)[0] else u
    elif "@" in u.split(":", 1)[0] and ":" in u:
        host, _, path = u.split("@", 1)[1].partition(":")
        u = f"{host}/{path}"
    u = u.rstrip("/")
    if u.endswith(".git"):
        u = u[:-4]
    return u.lower()
