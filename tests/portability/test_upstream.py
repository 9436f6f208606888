"""`nexus migrate from-upstream` on a database built here from the upstream schema (reference 3.1)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from nexus_memory.domain.models import MemoryFilter
from nexus_memory.errors import InvalidInput
from nexus_memory.services.portability.importer import Importer
from nexus_memory.services.portability.upstream import UpstreamReader
from nexus_memory.storage.sqlite import SQLiteStore
from tests.conftest import run_nexus

ALL = MemoryFilter(include_raw=True, include_archived=True, include_inactive=True)

# The newest upstream `run_migrations` schema, column for column (reference section 3.1).
UPSTREAM_SCHEMA = """
CREATE TABLE agent_namespaces (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL UNIQUE, description TEXT,
    agent_type TEXT NOT NULL, created_at DATETIME DEFAULT CURRENT_TIMESTAMP, updated_at DATETIME);
CREATE TABLE memories (id INTEGER PRIMARY KEY AUTOINCREMENT, namespace_id INTEGER NOT NULL
    REFERENCES agent_namespaces(id), content TEXT NOT NULL, category TEXT NOT NULL DEFAULT 'general',
    memory_lane_type TEXT, labels TEXT DEFAULT '[]', metadata TEXT DEFAULT '{}', similarity_score REAL,
    relevance_score REAL, content_embedding TEXT, embedding_model TEXT, created_at DATETIME DEFAULT CURRENT_TIMESTAMP,
    updated_at DATETIME, last_accessed DATETIME, is_active BOOLEAN DEFAULT 1, is_archived BOOLEAN DEFAULT 0,
    access_count INTEGER DEFAULT 0);
CREATE INDEX idx_memories_namespace ON memories(namespace_id);
CREATE INDEX idx_memories_cognitive_level ON memories(json_extract(metadata, '$.cognitive.level'));
CREATE TABLE task_specifications (id INTEGER PRIMARY KEY, namespace_id INTEGER, spec_id TEXT, task_description TEXT,
    spec_content TEXT, complexity_score REAL DEFAULT 0, usage_count INTEGER DEFAULT 0, success_rate REAL DEFAULT 0,
    created_at DATETIME, updated_at DATETIME, UNIQUE(namespace_id, spec_id));
CREATE TABLE memory_relations (id INTEGER PRIMARY KEY AUTOINCREMENT, source_memory_id INTEGER NOT NULL,
    target_memory_id INTEGER NOT NULL, relation_type TEXT NOT NULL, strength REAL DEFAULT 1.0, metadata TEXT,
    created_at DATETIME DEFAULT CURRENT_TIMESTAMP, UNIQUE(source_memory_id, target_memory_id, relation_type));
CREATE TABLE system_metrics (id INTEGER PRIMARY KEY AUTOINCREMENT, metric_name TEXT NOT NULL, metric_value REAL,
    labels TEXT DEFAULT '{}', recorded_at DATETIME DEFAULT CURRENT_TIMESTAMP);
CREATE TABLE memory_jobs (id INTEGER PRIMARY KEY AUTOINCREMENT, namespace_id INTEGER NOT NULL, job_type TEXT NOT NULL,
    status TEXT DEFAULT 'pending', priority INTEGER DEFAULT 100, perspective_json TEXT, payload_json TEXT NOT NULL,
    lease_owner TEXT, lease_expires_at TEXT, attempts INTEGER DEFAULT 0, last_error TEXT,
    created_at TEXT DEFAULT (datetime('now')), updated_at TEXT DEFAULT (datetime('now')), claim_token TEXT);
CREATE INDEX idx_memory_jobs_ready ON memory_jobs(status, priority, created_at);
CREATE TABLE session_digests (id INTEGER PRIMARY KEY AUTOINCREMENT, namespace_id INTEGER NOT NULL,
    session_key TEXT NOT NULL, digest_kind TEXT NOT NULL, memory_id INTEGER NOT NULL, start_memory_id INTEGER,
    end_memory_id INTEGER, token_count INTEGER, created_at DATETIME DEFAULT CURRENT_TIMESTAMP);
CREATE UNIQUE INDEX idx_session_digests_unique ON session_digests(namespace_id, session_key, digest_kind,
    end_memory_id);
CREATE TABLE memory_evidence (id INTEGER PRIMARY KEY AUTOINCREMENT, derived_memory_id INTEGER NOT NULL,
    source_memory_id INTEGER NOT NULL, evidence_role TEXT NOT NULL, created_at DATETIME DEFAULT CURRENT_TIMESTAMP,
    UNIQUE(derived_memory_id, source_memory_id, evidence_role));
CREATE TABLE processed_files (id INTEGER PRIMARY KEY AUTOINCREMENT, namespace_id INTEGER NOT NULL, path TEXT NOT NULL,
    content_hash TEXT, status TEXT DEFAULT 'pending', memory_id INTEGER, last_error TEXT, processed_at DATETIME,
    created_at DATETIME DEFAULT CURRENT_TIMESTAMP, updated_at DATETIME, UNIQUE(namespace_id, path));
"""


def build_upstream(path: Path) -> Path:
    conn = sqlite3.connect(path)
    conn.executescript(UPSTREAM_SCHEMA)
    ns = [(1, "claude", "claude"), (2, "claude-code", "claude-code"), (3, "Gemini-CLI", "gemini"), (4, "codex", "codex")]
    conn.executemany("INSERT INTO agent_namespaces(id, name, agent_type, created_at) VALUES (?, ?, ?, "
                     "'2025-06-01 10:00:00')", ns)
    cog = {"cognitive": {"level": "derived", "observer": "claude", "subject": "user", "session_keys": ["k1"],
                         "source_memory_ids": [1], "times_reinforced": 2}}
    rows = [
        # id, ns, content, labels, metadata, embedding, model, created, active, archived
        (1, 1, "User prefers tabs over spaces", json.dumps(["style"]), "{}", json.dumps([0.1, 0.2, 0.3]), "minilm",
         "2025-06-01 10:00:01", 1, 0),
        (2, 2, "user prefers TABS over spaces ", json.dumps(["editor"]), "{}", None, None, "2025-06-02 11:00:00", 1, 0),
        (3, 1, "The user likes consistent indentation", json.dumps(["derived"]), json.dumps(cog), None, None,
         "2025-06-03T12:00:00Z", 1, 0),
        (4, 3, "Gemini ran the test suite", "not json", '{"raw_activity": {"agent": "gemini"}}', "[broken", "minilm",
         "2025-06-04 09:30:00", 1, 0),
        (5, 4, "Old superseded note", "[]", "{}", None, None, "2025-05-01 08:00:00", 0, 1),
        (6, 1, "Session summary: indentation discussed", "[]", "{}", None, None, "2025-06-03 13:00:00", 1, 0),
        (7, 4, "api key is sk-abcdefghijklmnopqrstuvwxyz0123456789 keep secret", "[]", "{}", None, None,
         "2025-06-05 08:00:00", 1, 0),
    ]
    conn.executemany(
        "INSERT INTO memories(id, namespace_id, content, labels, metadata, content_embedding, embedding_model, "
        "created_at, is_active, is_archived) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
    conn.execute("INSERT INTO memory_relations(source_memory_id, target_memory_id, relation_type, strength) "
                 "VALUES (3, 1, 'references', 0.8)")
    conn.execute("INSERT INTO memory_evidence(derived_memory_id, source_memory_id, evidence_role) "
                 "VALUES (3, 1, 'derived_from'), (3, 2, 'derived_from')")
    conn.execute("INSERT INTO session_digests(namespace_id, session_key, digest_kind, memory_id, start_memory_id, "
                 "end_memory_id, token_count) VALUES (1, 'k1', 'short', 6, 1, 3, 120)")
    conn.execute("INSERT INTO memory_jobs(namespace_id, job_type, payload_json) VALUES (1, 'derive_memory', '{}')")
    conn.commit()
    conn.close()
    return path


def test_upstream_database_imports_with_canonical_namespaces(tmp_path: Path) -> None:
    upstream = build_upstream(tmp_path / "nexus.db")
    before = upstream.read_bytes()
    store = SQLiteStore(tmp_path / "new.db")
    try:
        reader = UpstreamReader(upstream)
        report = Importer(store, redact=True).run(reader.items())
        reader.close()
        assert report.skipped == []
        assert {ns.name for ns in store.list_namespaces()} == {"claude-code", "gemini", "codex"}
        # "claude" and "claude-code" merged; their duplicate memory merged into one
        assert (report.created, report.merged) == (6, 1)
        assert store.count(ALL) == 6
        tabs = store.list_memories(MemoryFilter(agents=("claude-code",), labels=("style",)))
        assert len(tabs) == 1 and set(tabs[0].labels) == {"style", "editor"}
        derived = store.get(report.id_map[3])
        assert derived is not None and derived.agent == "claude-code"
        assert derived.metadata["cognitive"]["times_reinforced"] == 2
        assert sorted(e.source_memory_id for e in store.lineage(derived.id) if e.derived_memory_id == derived.id) \
            == [tabs[0].id]  # both evidence rows point at the one merged memory
        assert store.relations_for(derived.id)[0].relation_type == "references"
        digest = store.latest_digest(derived.namespace_id, "short", "k1")
        assert digest is not None and digest.token_count == 120 and digest.memory_id == report.id_map[6]
        gemini = store.list_memories(MemoryFilter(agents=("gemini",), include_raw=True))
        assert len(gemini) == 1 and gemini[0].labels == () and gemini[0].is_raw_activity
        assert any("upstream memory 4: unreadable JSON" in n for n in reader.notes)
        assert any("upstream memory 4: embedding skipped" in n for n in reader.notes)
        assert any("1 upstream jobs not imported" in n for n in reader.notes)
        assert store.vector_counts() == {"minilm": 1}
        archived = store.get(report.id_map[5])
        assert archived is not None and archived.is_archived and not archived.is_active
        secret = store.get(report.id_map[7])
        assert secret is not None and "sk-abcdefghij" not in secret.content
        assert tabs[0].created_at is not None and tabs[0].created_at.isoformat().startswith("2025-06-01T10:00:01")

        rerun = UpstreamReader(upstream)
        second = Importer(store, redact=True).run(rerun.items())
        rerun.close()
        assert second.created == 0 and store.count(ALL) == 6
    finally:
        store.close()
    assert upstream.read_bytes() == before  # opened read-only


def test_not_an_upstream_database_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="no upstream database"):
        UpstreamReader(tmp_path / "missing.db")
    other = tmp_path / "other.db"
    sqlite3.connect(other).execute("CREATE TABLE t (x)").connection.close()
    with pytest.raises(InvalidInput, match="not an upstream Nexus database"):
        UpstreamReader(other)


def test_cli_from_upstream(tmp_path: Path) -> None:
    upstream = build_upstream(tmp_path / "nexus.db")
    done = run_nexus("migrate", "from-upstream", str(upstream), "--json")
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["import"]["created"] == 6 and data["source"]["memories"] == 7
    listed = run_nexus("list", "--agent", "claude", "--json")
    assert listed.returncode == 0
    # claude-code's active memories: the merged tabs preference, the derived one, the session summary
    assert json.loads(listed.stdout)["total"] == 3
