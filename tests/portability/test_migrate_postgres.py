"""`nexus migrate sqlite-to-postgres` and back, counts verified; export/import on PostgreSQL."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from nexus_memory.domain.models import MemoryFilter
from nexus_memory.services.portability.exporter import export_records
from nexus_memory.services.portability.migrate import copy_store, table_counts
from nexus_memory.storage.sqlite import SQLiteStore
from tests.conftest import run_nexus
from tests.portability.test_export_import import ALL, populate

pytestmark = pytest.mark.postgres


def stable(store: object) -> list[str]:
    """Export records minus what an import does not carry over (times of the copy, access counts)."""
    out = []
    for rec in list(export_records(store, embeddings=True))[1:]:  # type: ignore[arg-type]
        for key in ("updated_at", "last_accessed", "access_count"):
            rec.pop(key, None)
        if rec["type"] != "memory":
            rec.pop("created_at", None)
        for vec in rec.get("vectors", []):
            vec["vector"] = [round(x, 5) for x in vec["vector"]]
        out.append(json.dumps(rec, sort_keys=True))
    return out


def test_sqlite_to_postgres_and_back_keeps_everything(tmp_path: Path, pg_url: str) -> None:
    from nexus_memory.storage.postgres import PostgresStore

    sqlite = SQLiteStore(tmp_path / "a.db")
    pg = PostgresStore(pg_url)
    back = SQLiteStore(tmp_path / "b.db")
    try:
        ids = populate(sqlite)
        there = copy_store(sqlite, pg)
        assert there.source == there.target == table_counts(sqlite)
        assert there.imported.vectors == 2
        for mid in ids.values():
            a, b = sqlite.get(mid), pg.get(mid)
            assert a is not None and b is not None
            assert (a.content, a.labels, a.metadata, a.agent, a.created_at, a.is_active, a.context) == (
                b.content, b.labels, b.metadata, b.agent, b.created_at, b.is_active, b.context)
        assert pg.vector_search("mini", [1.0, 0.0], MemoryFilter(), limit=1)[0][0] == ids["a"]
        assert copy_store(sqlite, pg).imported.unchanged == 5  # again: a no-op
        home = copy_store(pg, back)
        assert home.target == table_counts(sqlite)
        assert stable(back) == stable(sqlite)
    finally:
        sqlite.close()
        pg.close()
        back.close()


def test_cli_migrate_both_ways(tmp_path: Path, pg_url: str) -> None:
    db = tmp_path / "local.db"
    for text in ("Prefer small commits", "Document every flag", "Use loopback only"):
        assert run_nexus("store", "-m", text, "-a", "codex", "--db", str(db)).returncode == 0
    up = run_nexus("migrate", "sqlite-to-postgres", "--db", str(db), "--database-url", pg_url, "--json")
    assert up.returncode == 0, up.stderr
    data = json.loads(up.stdout)
    assert data["verified"] and data["source"]["memories"] == data["target"]["memories"] == 3
    listed = run_nexus("list", "--database-url", pg_url, "--json")
    assert listed.returncode == 0 and json.loads(listed.stdout)["total"] == 3
    found = run_nexus("search", "commits", "--database-url", pg_url, "--json")
    assert found.returncode == 0 and "Prefer small commits" in found.stdout
    copy = tmp_path / "copy.db"
    down = run_nexus("migrate", "postgres-to-sqlite", "--db", str(copy), "--database-url", pg_url)
    assert down.returncode == 0, down.stderr
    assert "counts verified" in down.stdout
    store = SQLiteStore(copy)
    try:
        assert store.count(ALL) == 3
    finally:
        store.close()
    missing = run_nexus("migrate", "sqlite-to-postgres", "--db", str(db))
    assert missing.returncode == 1 and "no PostgreSQL URL given" in missing.stderr


def test_unreachable_postgres_is_one_line(tmp_path: Path) -> None:
    done = run_nexus("list", "--database-url", "postgresql://u:pw@127.0.0.1:1/x?connect_timeout=2")
    assert done.returncode == 1
    assert done.stderr.startswith("nexus: error: cannot reach the PostgreSQL database")
    assert "pw" not in done.stderr and "Traceback" not in done.stderr
