"""Project identity (reference 2.5): git root or `.nexus/project.toml`, display name."""

from __future__ import annotations

from pathlib import Path

import pytest

from nexus_memory.project import find_root, resolve_project


def test_git_root_is_found_from_a_subfolder(tmp_path: Path) -> None:
    (tmp_path / "repo" / ".git").mkdir(parents=True)
    deep = tmp_path / "repo" / "src" / "pkg"
    deep.mkdir(parents=True)
    assert find_root(deep) == tmp_path / "repo"
    ident = resolve_project(deep, with_remote=False)
    assert ident.root == (tmp_path / "repo").resolve()
    assert ident.display_name == "repo" and ident.git_remote is None


def test_project_toml_names_the_project(tmp_path: Path) -> None:
    (tmp_path / "p" / ".nexus").mkdir(parents=True)
    (tmp_path / "p" / ".nexus" / "project.toml").write_text('name = "Billing"\naliases = ["bill"]\n')
    (tmp_path / "p" / "sub").mkdir()
    ident = resolve_project(tmp_path / "p" / "sub", with_remote=False)
    assert ident.display_name == "Billing" and ident.aliases == ("bill",)
    assert ident.nexus_dir == ident.root / ".nexus"


def test_no_marker_means_cwd(tmp_path: Path) -> None:
    lone = tmp_path / "lone"
    lone.mkdir()
    # tmp_path has no .git above it in a normal temp dir; find_root falls back to cwd
    root = find_root(lone)
    assert root == lone or (root / ".git").exists() or (root / ".nexus" / "project.toml").is_file()


def test_malformed_project_toml_is_ignored(tmp_path: Path) -> None:
    (tmp_path / "q" / ".nexus").mkdir(parents=True)
    (tmp_path / "q" / ".nexus" / "project.toml").write_text("name = [broken")
    assert resolve_project(tmp_path / "q", with_remote=False).display_name == "q"


# ----------------------------------------------------------------------------------------- git (issue 16)
def _fake_repo(root: Path, head: str) -> Path:
    git = root / ".git"
    (git / "refs" / "heads").mkdir(parents=True)
    (git / "HEAD").write_text(head + "\n")
    return git


def test_branch_and_head_are_read_from_files_loose_packed_and_detached(tmp_path: Path) -> None:
    from nexus_memory.project.git import open_checkout

    sha, other = "a" * 40, "b" * 40
    git = _fake_repo(tmp_path / "r", "ref: refs/heads/feature/x")
    (git / "packed-refs").write_text(f"# pack-refs with: peeled\n{sha} refs/heads/feature/x\n{other} refs/heads/main\n")
    co = open_checkout(tmp_path / "r")
    assert co is not None and co.branch == "feature/x" and co.head == sha and co.ref("main") == other
    (git / "refs" / "heads" / "main").write_text(sha + "\n")  # a loose ref wins over the packed one
    assert co.ref("main") == sha and co.default_branch() == "main"
    (git / "HEAD").write_text(other + "\n")
    detached = open_checkout(tmp_path / "r")
    assert detached is not None and detached.branch is None and detached.head == other


def test_a_linked_worktree_is_read_through_its_gitdir_file(tmp_path: Path) -> None:
    from nexus_memory.project.git import open_checkout

    main_git = _fake_repo(tmp_path / "main", "ref: refs/heads/main")
    (main_git / "refs" / "heads" / "topic").write_text("c" * 40 + "\n")
    wt_git = main_git / "worktrees" / "wt"
    wt_git.mkdir(parents=True)
    (wt_git / "HEAD").write_text("ref: refs/heads/topic\n")
    (wt_git / "commondir").write_text("../..\n")
    (wt_git / "gitdir").write_text(str(tmp_path / "wt" / ".git") + "\n")
    (tmp_path / "wt").mkdir()
    (tmp_path / "wt" / ".git").write_text(f"gitdir: {wt_git}\n")
    co = open_checkout(tmp_path / "wt")
    assert co is not None and co.common_dir == main_git.resolve() and co.branch == "topic" and co.head == "c" * 40
    assert co.worktrees() == [(tmp_path / "main").resolve(), tmp_path / "wt"]
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / ".git").write_text("not a gitdir line\n")
    assert open_checkout(tmp_path / "bad") is None


def test_remote_urls_are_normalised_without_credentials() -> None:
    from nexus_memory.project.git import normalize_remote

    assert normalize_remote("git@github.com:Owner/Repo.git") == "github.com/owner/repo"
    assert normalize_remote("https://user:secret@github.com/owner/repo/") == "github.com/owner/repo"
    assert normalize_remote("ssh://git@host:22/x/y.git") == "host:22/x/y"


def test_a_git_that_hangs_or_is_missing_fails_open(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from nexus_memory.project import git as gitmod

    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "git"
    fake.write_text("#!/bin/sh\nexec /bin/sleep 5\n")
    fake.chmod(0o755)
    _fake_repo(tmp_path / "r", "ref: refs/heads/main")
    (tmp_path / "r" / ".git" / "refs" / "heads" / "main").write_text("d" * 40 + "\n")
    (tmp_path / "r" / ".git" / "config").write_text('[remote "origin"]\n\turl = git@example.com:o/r.git\n')
    monkeypatch.setenv("PATH", str(bin_dir))
    monkeypatch.setattr(gitmod, "GIT_TIMEOUT", 0.3)
    assert gitmod.run_git(tmp_path, "status", timeout=0.3) is None
    ident = resolve_project(tmp_path / "r", with_remote=False, cache_dir=tmp_path / "cache")
    assert ident.id == "remote:example.com/o/r"  # no root commit in time: the remote names it
    assert not (tmp_path / "cache").exists()  # and that fallback is not kept
    monkeypatch.setenv("PATH", str(tmp_path / "nowhere"))
    assert gitmod.run_git(tmp_path, "status") is None
