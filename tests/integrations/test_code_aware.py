"""Memory that knows the code (issue 16), through the real hook entry point in a real git repository:
one identity for every worktree, branch facets, the branch rule, code anchors and their states."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from nexus_memory.project import resolve_project
from tests.integrations.gitrepo import Repo, build
from tests.integrations.helpers import hook, memories
from tests.integrations.test_memory_loop import _ask


def _turn(cwd: Path, sid: str, prompt: str, say: str) -> None:
    """One session: a prompt and the assistant's final message (a finding)."""
    base = {"session_id": sid, "cwd": str(cwd), "transcript_path": None}
    hook("claude-code", "SessionStart", {**base, "hook_event_name": "SessionStart", "source": "startup"})
    hook("claude-code", "UserPromptSubmit", {**base, "hook_event_name": "UserPromptSubmit", "prompt": prompt})
    hook("claude-code", "Stop", {**base, "hook_event_name": "Stop", "stop_hook_active": False,
                                 "last_assistant_message": say})
    hook("claude-code", "SessionEnd", {**base, "hook_event_name": "SessionEnd", "reason": "other"})


def _finding(fragment: str) -> dict[str, object]:
    found = [m for m in memories() if fragment in m.content and "finding" in m.labels]
    assert len(found) == 1, [m.content for m in memories()]
    return found[0].metadata


def test_every_worktree_and_clone_shares_one_identity_and_memories_carry_branch_facets(tmp_path: Path) -> None:
    repo = build(tmp_path)
    wt = tmp_path / "wt-merged"
    repo.git("worktree", "add", "-q", str(wt), "feature/merged")
    clone = tmp_path / "clone"
    repo.git("clone", "-q", str(repo.root), str(clone))
    main_id = resolve_project(repo.root / "src", with_remote=False)
    wt_id = resolve_project(wt, with_remote=False)
    assert main_id.id.startswith("git:") and main_id.id == wt_id.id == resolve_project(clone, with_remote=False).id
    assert main_id.display_name == wt_id.display_name == "repo"
    outside = tmp_path / "plain"
    outside.mkdir()
    assert resolve_project(outside, with_remote=False).id == str(outside.resolve())  # outside git: the folder

    _turn(wt / "src", "s1", "how does the app reach its database?",
          "The app connects to the staging database db-stage-7 on port 6543, see deploy/settings.toml.")
    assert [m.id for m in memories(projects=(main_id.id,)) if "finding" in m.labels]  # the column holds the key
    hook_meta = _finding("db-stage-7")["hook"]
    assert isinstance(hook_meta, dict)
    assert hook_meta["project_id"] == main_id.id and hook_meta["branch"] == "feature/merged"
    assert hook_meta["worktree"] == str(wt.resolve()) and hook_meta["commit"] == repo.head(cwd=wt)

    # Asked from the main worktree (another folder, same repository), on a branch it merged into.
    repo.git("merge", "-q", "--no-ff", "-m", "merge", "feature/merged")
    pack, _ = _ask(repo.root, "s2", "what port does the staging database use?")
    assert "db-stage-7" in pack


def test_moving_the_checkout_keeps_its_memories(tmp_path: Path) -> None:
    repo = build(tmp_path)
    _turn(repo.root, "s1", "where is the staging database?",
          "The staging database is db-stage-7 on port 6543, configured in deploy/settings.toml.")
    moved = tmp_path / "renamed-checkout"
    shutil.move(str(repo.root), moved)
    pack, recall = _ask(moved, "s2", "which host is the staging database db-stage-7?")
    assert "db-stage-7" in pack + recall


def test_a_fact_of_an_unmerged_branch_stays_out_of_main_but_its_rules_and_merged_facts_come(tmp_path: Path) -> None:
    _branch_story(tmp_path)


@pytest.mark.postgres
def test_the_branch_rule_holds_on_postgresql(tmp_path: Path, pg_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEXUS_DATABASE_URL", pg_url)
    from nexus_memory.config import load_settings

    assert load_settings().database_url == pg_url
    _branch_story(tmp_path)
    assert all(m.metadata["hook"].get("project_id", "").startswith("git:") for m in memories()
               if "finding" in m.labels)


def _branch_story(tmp_path: Path) -> None:
    """Two worktrees: an abandoned branch and a merged one; then main moves on after a fork."""
    repo = build(tmp_path)
    abandoned, merged = tmp_path / "wt-abandoned", tmp_path / "wt-merged"
    repo.git("worktree", "add", "-q", str(abandoned), "feature/abandoned")
    repo.git("worktree", "add", "-q", str(merged), "feature/merged")
    repo.write("src/cache.py", "BACKEND = 'redis-cluster-9'\n", cwd=abandoned)
    repo.commit("cache layer", cwd=abandoned)
    _turn(abandoned, "a1", "Always run the formatter qfmt-77 before committing in this repo.",
          "The experimental cache layer keeps its entries in redis-cluster-9 behind the cache gateway.")
    repo.write("src/importer.py", "BATCH = 500\n", cwd=merged)
    repo.commit("importer", cwd=merged)
    _turn(merged, "m1", "how big are the importer batches?",
          "The importer reads batches of 500 rows through the importer-batch-x queue.")
    repo.git("merge", "-q", "--no-ff", "-m", "merge importer", "feature/merged")

    pack, recall = _ask(repo.root, "q1", "where does the experimental cache layer keep its entries?")
    assert "redis-cluster-9" not in pack + recall  # abandoned work does not leak into main
    assert "importer-batch-x" in pack  # merged work does
    assert "qfmt-77" in pack  # a rule holds on every branch

    pack, recall = _ask(abandoned, "q2", "where does the experimental cache layer keep its entries?")
    assert "redis-cluster-9" in pack + recall  # on its own branch it is there

    # A memory made on main before a branch forked holds on that branch; later main work does not.
    _turn(repo.root, "m2", "which port does the database use?",
          "The main database listener answers on port 6543 for the service dbmain-42.")
    repo.write("NEWS.md", "later\n")
    repo.commit("main moves on")
    _turn(repo.root, "m3", "what is the deploy window?",
          "Deploys to production happen only in the window named deploywin-5 on Tuesdays.")
    late = tmp_path / "wt-late"
    repo.git("worktree", "add", "-q", "-b", "feature/late", str(late), "HEAD~1")
    pack, recall = _ask(late, "q3", "which port and service does the main database listener use?")
    assert "dbmain-42" in pack + recall
    assert "deploywin-5" not in pack


def _anchored(fragment: str) -> dict[str, object]:
    code = _finding(fragment).get("code")
    assert isinstance(code, dict) and code["anchors"], _finding(fragment)
    return code


def test_code_anchors_are_verified_flagged_followed_and_demoted(tmp_path: Path) -> None:
    repo = build(tmp_path)
    _turn(repo.root, "s1", "how does connect work?",
          "connect() in src/app.py::connect defaults the port to 6543 for the connection pool zeta-pool.")
    _turn(repo.root, "s2", "what does slugify do?",
          "src/util.py lowercases text in slugify for the url builder omega-slug.")
    _turn(repo.root, "s3", "is old.py still used?",
          "old.py holds the LEGACY flag that the sigma-legacy importer still reads.")
    code = _anchored("zeta-pool")
    anchor = code["anchors"][0]  # type: ignore[index]
    assert anchor["path"] == "src/app.py" and anchor["symbol"] == "connect" and anchor["commit"] == repo.head()
    assert anchor["lines"] == [4, 6]
    assert _anchored("omega-slug")["anchors"][0]["path"] == "src/util.py"  # type: ignore[index]

    pack, _ = _ask(repo.root, "q1", "what does connect default to?")
    assert "code verified" in next(line for line in pack.splitlines() if "zeta-pool" in line)

    # The span changes; the file is renamed (git follows it); another file is deleted.
    app_py = repo.root / "src" / "app.py"
    app_py.write_text(app_py.read_text().replace("port=6543", "port=7000"))
    repo.git("mv", "src/util.py", "src/text_utils.py")
    repo.git("rm", "-q", "old.py")
    repo.commit("change, rename, delete")
    pack, recall = _ask(repo.root, "q2", "what does connect default to in zeta-pool, slugify in omega-slug, "
                                         "and LEGACY in sigma-legacy?")
    lines = (pack + "\n" + recall).splitlines()
    zeta = next(line for line in lines if "zeta-pool" in line)
    assert "possibly stale" in zeta and "port=7000" in zeta
    assert "code verified" in next(line for line in lines if "omega-slug" in line)
    sigma = next(line for line in lines if "sigma-legacy" in line)
    assert "stale: old.py deleted" in sigma
    # the states are stored with the memory (MCP and REST results carry them)
    assert _anchored("omega-slug")["anchors"][0]["path"] == "src/text_utils.py"  # type: ignore[index]
    assert _anchored("sigma-legacy")["state"] == "deleted"
    assert _anchored("zeta-pool")["state"] == "possibly_stale"
    # deleted code is demoted: it comes after the memories whose code still stands
    assert lines.index(sigma) > lines.index(zeta)


def test_outside_git_nothing_changes(tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    Repo(plain).write("app.py", "X = 1\n")
    _turn(plain, "s1", "what is X?", "X in app.py is set to one for the kappa-plain service.")
    meta = _finding("kappa-plain")
    assert "code" not in meta and "branch" not in meta["hook"]  # type: ignore[operator]
    pack, _ = _ask(plain, "q1", "what is X for kappa-plain?")
    assert "kappa-plain" in pack


def test_nexus_project_shows_the_identity_and_verify_repairs_in_bulk(tmp_path: Path) -> None:
    import json

    from tests.conftest import run_nexus

    repo = build(tmp_path)
    wt = tmp_path / "wt-merged"
    repo.git("worktree", "add", "-q", str(wt), "feature/merged")
    _turn(repo.root, "s1", "what does slugify do?", "src/util.py lowercases text in slugify for the url builder omega-slug.")
    _turn(repo.root, "s2", "is old.py still used?", "old.py holds the LEGACY flag that the sigma-legacy importer reads.")
    shown = run_nexus("project", "--json", cwd=wt / "src")
    assert shown.returncode == 0, shown.stderr
    info = json.loads(shown.stdout)
    assert info["key"] == resolve_project(repo.root, with_remote=False).id and info["branch"] == "feature/merged"
    assert info["worktree"] == str(wt.resolve()) and str(repo.root.resolve()) in info["worktrees"]
    assert info["memories"] >= 2  # the main worktree's memories are this worktree's too
    text = run_nexus("project", cwd=repo.root)
    assert "branch: main" in text.stdout and info["key"] in text.stdout

    repo.git("mv", "src/util.py", "src/text_utils.py")
    repo.git("rm", "-q", "old.py")
    repo.commit("rename and delete")
    dry = run_nexus("verify", "--dry-run", "--json", cwd=repo.root)
    assert dry.returncode == 0, dry.stderr
    assert json.loads(dry.stdout)["states"] == {"verified": 1, "deleted": 1}
    assert _anchored("omega-slug")["anchors"][0]["path"] == "src/util.py"  # type: ignore[index]  # dry run
    done = run_nexus("verify", cwd=repo.root)
    assert done.returncode == 0, done.stderr
    assert "2 memories with code anchors checked" in done.stdout and "deleted: old.py deleted" in done.stdout
    assert "verify [" in done.stderr  # the progress bar
    assert _anchored("omega-slug")["anchors"][0]["path"] == "src/text_utils.py"  # type: ignore[index]
    assert _anchored("sigma-legacy")["state"] == "deleted"
    found = json.loads(run_nexus("search", "--json", "sigma-legacy importer").stdout)["results"]
    assert found[0]["memory"]["metadata"]["code"]["state"] == "deleted"  # search results carry the state
    outside = tmp_path / "plain"
    outside.mkdir()
    bad = run_nexus("verify", cwd=outside)
    assert bad.returncode == 1 and bad.stderr.count("\n") == 1 and "not in a git repository" in bad.stderr


def test_the_session_start_sweep_stores_anchor_states(tmp_path: Path) -> None:
    repo = build(tmp_path)
    _turn(repo.root, "s1", "is old.py still used?", "old.py holds the LEGACY flag that the sigma-legacy importer reads.")
    repo.git("rm", "-q", "old.py")
    repo.commit("delete")
    base = {"session_id": "s2", "cwd": str(repo.root), "transcript_path": None}
    hook("claude-code", "SessionStart", {**base, "hook_event_name": "SessionStart", "source": "startup"})
    assert _anchored("sigma-legacy")["state"] == "deleted"


def test_what_changed_never_carries_a_secret_into_the_pack_or_the_store(tmp_path: Path) -> None:
    repo = build(tmp_path)
    _turn(repo.root, "s1", "where is the db host set?",
          "deploy/settings.toml:1-3 sets the database host db-stage-7 for the tau-deploy pipeline.")
    assert _anchored("tau-deploy")["anchors"][0]["lines"] == [1, 3]  # type: ignore[index]
    settings = repo.root / "deploy" / "settings.toml"
    settings.write_text("[db]\npassword = 's3cr3t-Value-991'\nport = 6543\n")
    pack, _ = _ask(repo.root, "q1", "where is the database host for tau-deploy?")
    line = next(line for line in pack.splitlines() if "tau-deploy" in line)
    assert "possibly stale" in line and "s3cr3t-Value-991" not in line and "REDACTED" in line
    assert "s3cr3t-Value-991" not in str(_anchored("tau-deploy"))


def test_memories_made_before_the_first_commit_stay_with_the_repository(tmp_path: Path) -> None:
    repo = Repo(tmp_path / "fresh")
    repo.root.mkdir()
    repo.git("init", "-q", "-b", "main")
    _turn(repo.root, "s1", "what does the queue use?", "The job queue uses the broker named omicron-bus-3 for retries.")
    assert _finding("omicron-bus-3")["hook"]["project_id"] == str((repo.root / ".git").resolve())  # type: ignore[index]
    repo.write("README.md", "x\n")
    repo.commit("first")
    pack, _ = _ask(repo.root, "q1", "which broker does the job queue use?")
    assert "omicron-bus-3" in pack and resolve_project(repo.root, with_remote=False).id.startswith("git:")


def test_git_answers_are_kept_per_head_and_a_storm_of_git_runs_fails_open(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from nexus_memory.domain.models import Memory
    from nexus_memory.project import scope as scope_mod
    from nexus_memory.project.scope import CodeScope

    repo = build(tmp_path)
    fork = repo.head()
    forks: list[Memory] = []
    for i in range(4):  # four unmerged branches, each remembered at its fork point (uncommitted work)
        repo.git("checkout", "-q", "-b", f"topic/{i}", fork)
        repo.write(f"t{i}.txt", "x\n")
        repo.commit(f"topic {i}")
        forks.append(Memory(id=i, namespace_id=1, content="c", metadata={"hook": {"branch": f"topic/{i}",
                                                                                     "commit": fork}}))
    repo.git("checkout", "-q", "main")
    repo.write("later.txt", "y\n")
    repo.commit("main moves")
    proj = resolve_project(repo.root, with_remote=False)
    calls: list[tuple[str, ...]] = []
    real = scope_mod.run_git

    def counted(cwd: Path, *args: str, **kw: object) -> str | None:
        calls.append(args)
        return real(cwd, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(scope_mod, "run_git", counted)
    cache = tmp_path / "cache"
    first = CodeScope(proj, cache)
    assert [first.visible(m, "finding") for m in forks] == [False] * 4  # the fork point is not merged work
    first.save()
    assert len(calls) == 5  # one window of HEAD's history, one merge-base per branch
    again = CodeScope(proj, cache)
    assert [again.visible(m, "finding") for m in forks] == [False] * 4 and len(calls) == 5  # kept for this HEAD
    monkeypatch.setattr(scope_mod, "MAX_GIT_RUNS", 2)
    capped = CodeScope(proj, tmp_path / "other-cache")
    assert [capped.visible(m, "finding") for m in forks] == [False, True, True, True]  # past the cap: offered
