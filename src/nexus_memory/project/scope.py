"""What recall may offer in this checkout: branch visibility and code-anchor states (issue 16).

`CodeScope` answers, for a memory, "is its branch's work part of this branch?" and "is the code it
names unchanged?". Git is asked at most once per new HEAD for ancestry (`git rev-list`, a window
of the newest commits) and once per unmerged branch for its fork point (`git merge-base`); the
answers are kept in a small file per repository, so the next prompt on the same HEAD asks nothing.
Every git run has a timeout; when git cannot answer, the memory is offered (fail open).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nexus_memory.domain import code as rules
from nexus_memory.project.anchors import Checker
from nexus_memory.project.git import is_sha, run_git

if TYPE_CHECKING:
    from nexus_memory.domain.models import Memory
    from nexus_memory.project import ProjectIdentity

#: Commits of the current history listed at once to answer "is this commit merged?".
ANCESTRY_WINDOW = 20_000
#: Git runs one recall may start (the window, fork points, old commits); past it, memories are offered.
MAX_GIT_RUNS = 6


class CodeScope:
    def __init__(self, project: ProjectIdentity, cache_dir: Path | None = None) -> None:
        self.project = project
        self.checkout = project.checkout
        self.head = self.checkout.head if self.checkout else None
        self.branch = self.checkout.branch if self.checkout else None
        self.checker = Checker(self.checkout) if self.checkout else None
        self._cache_path: Path | None = None
        self._cache: dict[str, Any] = {"head": self.head, "anc": {}, "fork": {}}
        self._window: set[str] | None = None
        self._window_complete = False
        self._dirty = False
        self._git_runs = 0
        if cache_dir is not None and self.checkout is not None and self.head:
            import zlib

            tag = str(self.checkout.common_dir).encode("utf-8", "replace")
            self._cache_path = cache_dir / f"{zlib.crc32(tag):08x}{zlib.adler32(tag):08x}.scope.json"
            try:
                data = json.loads(self._cache_path.read_text(encoding="utf-8"))
                if isinstance(data, dict) and data.get("head") == self.head:
                    self._cache = {"head": self.head, "anc": dict(data.get("anc") or {}),
                                   "fork": dict(data.get("fork") or {})}
            except (OSError, ValueError, TypeError):
                pass

    # branches ------------------------------------------------------------------------------------
    def visible(self, memory: Memory, kind: str) -> bool:
        if self.checkout is None:
            return True
        made = rules.made_on(memory.metadata if isinstance(memory.metadata, dict) else {})
        return rules.branch_visible(kind, made, self.branch, self.head, self._merged)

    def same_branch(self, memory: Memory) -> bool:
        made = rules.made_on(memory.metadata if isinstance(memory.metadata, dict) else {})
        return made.branch is None or made.branch == self.branch

    def _merged(self, made: rules.Made) -> bool:
        """The memory's branch is merged into HEAD, or the memory predates where that branch forked."""
        tip = self.checkout.ref(made.branch) if self.checkout and made.branch else None
        if tip is not None and made.branch == self._default():
            # The default branch is what the others fork from: what it knew at a commit this branch
            # holds still holds here (its later commits are not here until they are merged).
            tip = None
        if tip is not None:
            reach = self._ancestor(tip)
            if reach is None or reach:
                return True
            if made.commit is None:
                return False
            here = self._ancestor(made.commit)
            if here is None:
                return True
            if not here:
                return False
            fork = self._fork(tip)
            return fork is None or fork != made.commit
        if made.commit is None:
            return True  # a branch we cannot see, and no commit: nothing to go by
        here = self._ancestor(made.commit)
        return here is None or here

    def _default(self) -> str | None:
        if "default" not in self._cache:
            self._cache["default"] = self.checkout.default_branch() if self.checkout else None
        value = self._cache["default"]
        return value if isinstance(value, str) else None

    def _ancestor(self, commit: str) -> bool | None:
        """Is `commit` in HEAD's history? None when git cannot tell."""
        if commit == self.head:
            return True
        if not is_sha(commit) or self.checkout is None or self.head is None:
            return None
        known = self._cache["anc"].get(commit)
        if isinstance(known, bool):
            return known
        if self._window is None:
            if not self._may_run_git():
                return None
            out = run_git(self.checkout.worktree, "rev-list", f"--max-count={ANCESTRY_WINDOW}", self.head)
            if out is None:
                return None
            self._window = set(out.split())
            self._window_complete = len(self._window) < ANCESTRY_WINDOW
        if commit in self._window:
            answer: bool | None = True
        elif self._window_complete:
            answer = False
        elif not self._may_run_git():
            return None
        else:  # older than the window: ask about this one commit
            out = run_git(self.checkout.worktree, "merge-base", "--is-ancestor", commit, self.head)
            answer = out is not None
        self._cache["anc"][commit] = answer
        self._dirty = True
        return answer

    def _fork(self, tip: str) -> str | None:
        known = self._cache["fork"].get(tip)
        if isinstance(known, str):
            return known
        if self.checkout is None or self.head is None or not self._may_run_git():
            return None
        out = run_git(self.checkout.worktree, "merge-base", tip, self.head)
        fork = (out or "").strip()
        if not is_sha(fork):
            return None
        self._cache["fork"][tip] = fork
        self._dirty = True
        return fork

    def _may_run_git(self) -> bool:
        """No storm of git runs in one recall: past MAX_GIT_RUNS the answer is "unknown" (offered)."""
        self._git_runs += 1
        return self._git_runs <= MAX_GIT_RUNS

    # anchors -------------------------------------------------------------------------------------
    def check(self, memory: Memory) -> tuple[dict[str, Any], bool] | None:
        """The memory's code section re-checked against this working tree (None: it has no anchors)."""
        meta = memory.metadata if isinstance(memory.metadata, dict) else {}
        code = rules.code_meta(meta)
        if not code or not rules.anchors_of(meta) or self.checker is None:
            return None
        return self.checker.check(code)

    def save(self) -> None:
        """Keep git's answers for the next process on the same HEAD."""
        if not self._dirty or self._cache_path is None:
            return
        try:
            self._cache_path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            tmp = self._cache_path.with_name(f"{self._cache_path.name}.{os.getpid()}.tmp")
            tmp.write_text(json.dumps(self._cache), encoding="utf-8")
            os.replace(tmp, self._cache_path)
            self._dirty = False
        except OSError:
            pass
