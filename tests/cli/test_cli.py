"""The real `nexus` entry point, run in a subprocess against a temp NEXUS_HOME."""

from __future__ import annotations

import json
import sqlite3
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import run_nexus


def ok(*args: str, input: str | None = None) -> subprocess.CompletedProcess[str]:
    proc = run_nexus(*args, input=input)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    return proc


def js(*args: str, input: str | None = None) -> Any:
    return json.loads(ok(*args, "--json", input=input).stdout)


def fails(*args: str, code: int = 1, input: str | None = None) -> str:
    """Run a failing command; return its stderr (exactly one `nexus: ...` line for exit 1)."""
    proc = run_nexus(*args, input=input)
    assert proc.returncode == code, (proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr and "Traceback" not in proc.stdout
    if code == 1:
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("nexus: error: "), proc.stderr
    return proc.stderr


def store(content: str, *extra: str) -> int:
    return int(js("store", "--content", content, *extra)["id"])


# init / config -------------------------------------------------------------------------------
def test_init_creates_the_database(nexus_home: Path) -> None:
    out = js("init")
    assert out["backend"] == "sqlite" and out["integrity"] == "ok"
    assert out["database_path"] == str(nexus_home / "data" / "nexus.db")
    assert out["migrations"][0] == "0001_core"
    assert Path(out["database_path"]).is_file()
    assert "Database ready at" in ok("init").stdout  # idempotent


def test_init_reset_refuses_without_yes_when_not_interactive(nexus_home: Path) -> None:
    mid = store("keep me safe")
    err = fails("init", "--reset", input="y\n")
    assert "reset not confirmed; nothing was deleted" in err and "--yes" in err
    assert js("get", str(mid))["content"] == "keep me safe"
    ok("init", "--reset", "--yes")
    assert "does not exist" in fails("get", str(mid))
    assert js("list")["total"] == 0


def test_config_show(nexus_home: Path) -> None:
    data = js("config", "show")
    assert data["database_path"] == str(nexus_home / "data" / "nexus.db")
    assert data["backend"] == "sqlite"
    assert data["api_token"] == "not set"
    assert data["cognition"]["runtime_idle_timeout_secs"] == 900
    text = ok("config", "show").stdout
    assert "database_path = " in text and "  runtime_idle_timeout_secs = 900" in text
    secret = run_nexus("config", "show", "--json", env={"NEXUS_API_TOKEN": "hunter2-secret-token"})
    assert "hunter2" not in secret.stdout and json.loads(secret.stdout)["api_token"] == "set"


def test_db_flag_and_env_override(tmp_path: Path) -> None:
    db = tmp_path / "elsewhere" / "x.db"
    ok("store", "--db", str(db), "--content", "in another file")
    assert db.is_file()
    assert js("list", "--db", str(db))["total"] == 1
    assert js("list")["total"] == 0
    env = run_nexus("list", "--json", env={"NEXUS_DATABASE_PATH": str(db)})
    assert json.loads(env.stdout)["total"] == 1


# store ---------------------------------------------------------------------------------------
def test_store_with_every_flag() -> None:
    out = js("store", "--content", "  The team database is PostgreSQL 15  ", "--agent", "claude",
             "--category", "facts", "--labels", "db,infra", "-l", "ops", "--lane", "decision",
             "--metadata-json", '{"source": "notes"}', "--session-key", "s-42", "--context", "planning chat")
    assert out["created"] is True
    m = out["memory"]
    assert m["id"] == out["id"]
    assert m["content"] == "The team database is PostgreSQL 15"
    assert m["agent_type"] == "claude-code"
    assert m["category"] == "facts" and m["memory_lane_type"] == "decision"
    assert m["labels"] == ["db", "infra", "ops"]
    assert m["context"] == "planning chat" and m["session_key"] == "s-42"
    assert m["metadata"]["source"] == "notes"
    cog = m["metadata"]["cognitive"]
    assert m["cognitive_level"] == "explicit" == cog["level"]
    assert cog["observer"] == cog["subject"] == "claude-code"
    assert cog["session_keys"] == ["s-42"]


def test_store_text_output_and_merge() -> None:
    first = ok("store", "--content", "Use ruff for linting", "--agent", "codex").stdout
    assert first.startswith("Stored memory #1 for codex (general)")
    again = ok("store", "--content", "use RUFF for linting ", "--agent", "codex").stdout
    assert again.startswith("Merged into existing memory #1 for codex")
    out = js("store", "--content", "USE ruff FOR linting", "--agent", "codex")
    assert out["created"] is False and out["id"] == 1 and out["memory"]["access_count"] == 2


def test_store_reads_stdin() -> None:
    out = js("store", "--agent", "gemini", input="piped memory text\nsecond line\n")
    assert out["memory"]["content"] == "piped memory text\nsecond line"
    assert out["memory"]["agent_type"] == "gemini"


def test_store_default_agent_from_env() -> None:
    proc = run_nexus("store", "--json", "--content", "from env", env={"NEXUS_DEFAULT_AGENT": "Qwen-Code"})
    assert json.loads(proc.stdout)["memory"]["agent_type"] == "qwen"


def test_store_redacts_secrets() -> None:
    out = js("store", "--content", "the key is sk-ant-abcdefghijklmnopqrstuvwxyz")
    assert "sk-ant" not in out["memory"]["content"] and "[REDACTED]" in out["memory"]["content"]


@pytest.mark.parametrize("content", ["", "   \n  "])
def test_store_empty_content(content: str) -> None:
    err = fails("store", "--content", content)
    assert "the memory content is empty" in err
    err = fails("store", input=content)
    assert "the memory content is empty" in err


def test_store_unknown_category_lists_valid_ones() -> None:
    err = fails("store", "--content", "x", "--category", "fact")
    assert "unknown category 'fact'" in err
    assert "general, facts, preferences, context, specifications, session" in err


def test_store_unknown_lane() -> None:
    err = fails("store", "--content", "x", "--lane", "urgent")
    assert "unknown memory lane type 'urgent'" in err and "decision" in err


def test_store_bad_metadata_json_points_at_the_position() -> None:
    err = fails("store", "--content", "x", "--metadata-json", '{"a": }')
    assert "--metadata-json is not valid JSON" in err
    assert "line 1 column 7 (char 6)" in err
    err = fails("store", "--content", "x", "--metadata-json", "[1, 2]")
    assert "--metadata-json must be a JSON object" in err
    assert js("list")["total"] == 0  # nothing half-stored


# search / list / get / forget / delete -------------------------------------------------------
def test_search_covers_every_agent_without_agent_flag() -> None:
    a = store("pgbouncer pool size is 20", "--agent", "claude-code")
    b = store("pgbouncer runs on the db host", "--agent", "gemini")
    store("unrelated note about lunch", "--agent", "codex")
    hits = js("search", "pgbouncer")
    assert {h["memory"]["id"] for h in hits["results"]} == {a, b}
    assert hits["count"] == 2
    only = js("search", "pgbouncer", "--agent", "gemini")
    assert [h["memory"]["id"] for h in only["results"]] == [b]
    by_flag = js("search", "-q", "pool size", "--limit", "1")
    assert [h["memory"]["id"] for h in by_flag["results"]] == [a]
    text = ok("search", "pgbouncer", "pool").stdout
    assert f"#{a}" in text and f"#{b}" in text


def test_search_filters_and_explain() -> None:
    a = store("cobalt deploy notes", "--category", "facts", "--labels", "ops")
    store("cobalt shopping list", "--category", "general")
    out = js("search", "cobalt", "--category", "facts", "--label", "OPS", "--explain")
    assert [h["memory"]["id"] for h in out["results"]] == [a]
    assert "bm25" in out["results"][0]["explain"]


def test_search_no_results_and_errors() -> None:
    store("something")
    assert js("search", "zebra")["results"] == []
    assert "No memories" in ok("search", "zebra").stdout
    assert "the search query is empty" in fails("search")
    assert "unknown search mode 'fuzzy'" in fails("search", "x", "--mode", "fuzzy")
    assert "unknown category" in fails("search", "x", "--category", "nope")


def test_list_filters_paging_and_json() -> None:
    ids = [store(f"memory number {i}", "--agent", "codex" if i % 2 else "gemini") for i in range(5)]
    out = js("list", "--limit", "2", "--offset", "1")
    assert out["total"] == 5 and out["limit"] == 2 and out["offset"] == 1
    assert [m["id"] for m in out["memories"]] == [ids[3], ids[2]]
    assert js("list", "--agent", "codex")["total"] == 2
    assert js("list", "--agent", "codex,gemini")["total"] == 5
    text = ok("list", "--limit", "2").stdout
    assert "-- 1-2 of 5" in text
    assert js("list", "--since", "1h")["total"] == 5
    assert js("list", "--until", "2000-01-01")["total"] == 0
    assert "cannot read the time 'yesterday'" in fails("list", "--since", "yesterday")
    assert "unknown cognitive level" in fails("list", "--level", "deep")


def test_get_forget_delete() -> None:
    mid = store("forget me later", "--labels", "tmp")
    got = js("get", str(mid))
    assert got["content"] == "forget me later" and got["labels"] == ["tmp"]
    assert f"Memory #{mid}" in ok("get", str(mid)).stdout
    assert js("forget", str(mid)) == {"id": mid, "forgotten": True}
    assert js("list")["total"] == 0
    archived = js("list", "--archived")
    assert [m["id"] for m in archived["memories"]] == [mid] and archived["memories"][0]["is_archived"]
    assert js("delete", str(mid)) == {"id": mid, "deleted": True}
    assert js("list", "--archived")["total"] == 0


@pytest.mark.parametrize("command", ["get", "forget", "delete"])
def test_missing_id(command: str) -> None:
    err = fails(command, "999")
    assert "memory 999 does not exist" in err and "nexus list" in err


def test_stats() -> None:
    store("a fact", "--agent", "codex", "--category", "facts")
    store("a note", "--agent", "codex")
    store("other", "--agent", "gemini")
    out = js("stats")
    assert out["total_active"] == 3
    by = {n["namespace_name"]: n for n in out["namespaces"]}
    assert by["codex"]["categories"] == {"facts": 1, "general": 1}
    assert by["codex"]["levels"] == {"explicit": 2}
    assert set(out["jobs"]) == {"pending", "running", "completed", "failed"}
    assert [n["namespace_name"] for n in js("stats", "--agent", "gemini")["namespaces"]] == ["gemini"]
    assert "3 active memories in 2 agent namespace(s)" in ok("stats").stdout


def test_stats_empty() -> None:
    assert "No memories yet" in ok("stats").stdout


# session ---------------------------------------------------------------------------------------
def test_session_lifecycle(nexus_home: Path) -> None:
    start = js("session", "start", "--agent", "claude", "--session-key", "s1", "--cwd", "/tmp/proj")
    assert start["agent_type"] == "claude-code" and start["session_key"] == "s1" and start["created"]
    assert start["mode"] == "session_scoped" and start["marker_id"]
    state = Path(start["state_file"])
    assert state.is_file() and state.is_relative_to(nexus_home / "state" / "runtime")
    assert "Session runtime ready for claude-code (s1)" in ok(
        "session", "start", "--agent", "claude-code", "--session-key", "s1").stdout
    event = js("session", "event", "--agent", "claude", "--session-key", "s1", "--kind", "checkpoint",
               "--detail", "saved")
    assert event["kind"] == "checkpoint" and event["agent_type"] == "claude-code"
    status = js("session", "status")
    assert [(s["agent_type"], s["session_key"], s["expired"]) for s in status] == [("claude-code", "s1", False)]
    assert "Active sessions: 1" in ok("session", "status").stdout
    assert js("session", "sweep") == []
    end = js("session", "end", "--agent", "claude", "--session-key", "s1")
    assert end["state_removed"] is True and end["reason"] == "session-ended"
    assert not state.exists()
    assert js("session", "status") == []
    assert js("list", "--category", "session", "--label", "runtime")["memories"] == [], "bookkeeping stays out"
    markers = js("list", "--category", "session", "--label", "runtime", "--bookkeeping")["memories"]
    assert sorted(m["content"] for m in markers) == sorted([
        "Runtime runtime session start for claude-code [session:s1] (mode=session_scoped)",
        "Runtime session checkpoint for claude-code [session:s1] (saved)",
        "Runtime runtime session end for claude-code [session:s1] (session-ended)",
    ])


def test_session_derived_key_and_persistent_mode() -> None:
    out = js("session", "start", "--agent", "gemini", "--cwd", "/home/u/proj", "--mode", "persistent")
    assert out["session_key"] == "derived-gemini-_home_u_proj" and out["mode"] == "persistent"
    assert "Session finalized for gemini (derived-gemini-_home_u_proj)" in ok(
        "session", "end", "--agent", "gemini", "--cwd", "/home/u/proj", "--reason", "manual").stdout


def test_session_sweep_ends_idle_sessions(nexus_home: Path) -> None:
    start = js("session", "start", "--agent", "codex", "--session-key", "old")
    path = Path(start["state_file"])
    data = json.loads(path.read_text())
    data["updated_at"] = "2020-01-01T00:00:00.000000Z"
    path.write_text(json.dumps(data))
    swept = js("session", "sweep")
    assert swept == [{"agent_type": "codex", "session_key": "old", "reason": "idle-timeout"}]
    assert not path.exists()


def test_session_corrupt_state_is_reported(nexus_home: Path) -> None:
    start = js("session", "start", "--agent", "codex", "--session-key", "k")
    Path(start["state_file"]).write_text("garbage")
    proc = run_nexus("session", "status")
    assert proc.returncode == 0
    assert "nexus: warning: runtime state" in proc.stderr and "moved to" in proc.stderr


def test_session_usage_errors() -> None:
    assert "--agent" in fails("session", "start", code=2)
    assert "unknown runtime mode" in fails("session", "start", "--agent", "x", "--mode", "forever")
    assert "unknown shutdown reason" in fails("session", "end", "--agent", "x", "--reason", "crash")
    assert run_nexus("session").returncode == 2


# global behaviour --------------------------------------------------------------------------------
def test_usage_errors_exit_2() -> None:
    assert "invalid int value" in fails("get", "abc", code=2)
    assert "invalid choice" in fails("frobnicate", code=2)
    assert "unrecognized arguments" in fails("list", "--bogus", code=2)
    proc = run_nexus()
    assert proc.returncode == 2 and "usage: nexus" in proc.stdout


def test_version_and_help() -> None:
    assert ok("--version").stdout.startswith("nexus ")
    assert "store" in ok("--help").stdout


def test_corrupt_database_says_how_to_recover(nexus_home: Path) -> None:
    db = nexus_home / "data" / "nexus.db"
    db.parent.mkdir(parents=True)
    db.write_bytes(b"this is not a database at all" * 100)
    for args in (("list",), ("store", "--content", "x"), ("init",), ("search", "x")):
        err = fails(*args)
        assert f"the database {db} is not a usable SQLite file" in err
        assert "move it aside" in err and "nexus init" in err
    assert db.read_bytes().startswith(b"this is not a database")  # never clobbered


def test_every_command_takes_json(nexus_home: Path) -> None:
    mid = store("json everywhere")
    commands = [
        ("init",), ("config", "show"), ("store", "--content", "another"), ("search", "json"), ("list",),
        ("get", str(mid)), ("stats",), ("session", "start", "--agent", "a", "--session-key", "j"),
        ("session", "event", "--agent", "a", "--session-key", "j", "--kind", "error"),
        ("session", "status",), ("session", "sweep"), ("session", "end", "--agent", "a", "--session-key", "j"),
        ("forget", str(mid)), ("delete", str(mid)),
    ]
    for args in commands:
        json.loads(ok(*args, "--json").stdout)


def test_store_survives_a_locked_reader(nexus_home: Path) -> None:
    """A long read transaction in another process does not block a write (WAL)."""
    store("first")
    db = nexus_home / "data" / "nexus.db"
    conn = sqlite3.connect(db)
    try:
        conn.execute("BEGIN")
        conn.execute("SELECT count(*) FROM memories").fetchone()
        store("second while a reader holds a snapshot")
    finally:
        conn.close()
    assert js("list")["total"] == 2


@pytest.mark.parametrize(("answer", "deleted"), [("y\n", True), ("n\n", False), ("\n", False)])
def test_init_reset_asks_on_a_terminal(answer: str, deleted: bool) -> None:
    import os
    import pty

    from tests.conftest import nexus_executable

    mid = store("maybe reset me")
    master, slave = pty.openpty()
    try:
        proc = subprocess.Popen([nexus_executable(), "init", "--reset"], stdin=slave, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        os.write(master, answer.encode())
        out, err = proc.communicate(timeout=60)
    finally:
        os.close(master)
        os.close(slave)
    assert "Delete every memory in" in err and "[y/N]" in err
    if deleted:
        assert proc.returncode == 0 and "Database ready" in out
        assert "does not exist" in fails("get", str(mid))
    else:
        assert proc.returncode == 1 and "reset not confirmed; nothing was deleted" in err
        assert js("get", str(mid))["content"] == "maybe reset me"
