"""Project identity (reference 2.5): git root or `.nexus/project.toml`, display name."""

from __future__ import annotations

from pathlib import Path

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
