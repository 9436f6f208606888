-- Core schema (upstream reference 3.1), with these changes:
--  * namespace names are canonical (enforced by the service on every write);
--  * dedup is a partial UNIQUE index on (namespace, content hash) of active rows,
--    resolved in the store inside BEGIN IMMEDIATE (race-free), not a trigger;
--  * level, session_key and is_raw are copied out of metadata for fast filters;
--  * an FTS5 index (porter stemmer) over content, retrieval context and labels;
--  * deletes cascade to evidence, relations and digests (upstream defect 22).

CREATE TABLE agent_namespaces (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    name        TEXT NOT NULL UNIQUE,
    description TEXT,
    agent_type  TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    updated_at  TEXT
);

CREATE TABLE memories (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    namespace_id     INTEGER NOT NULL REFERENCES agent_namespaces(id) ON DELETE CASCADE,
    content          TEXT NOT NULL,
    content_hash     TEXT NOT NULL,
    context          TEXT,
    category         TEXT NOT NULL DEFAULT 'general',
    memory_lane_type TEXT,
    labels           TEXT NOT NULL DEFAULT '[]',
    metadata         TEXT NOT NULL DEFAULT '{}',
    level            TEXT NOT NULL DEFAULT 'raw',
    session_key      TEXT,
    is_raw           INTEGER NOT NULL DEFAULT 0,
    similarity_score REAL,
    relevance_score  REAL,
    embedding_model  TEXT,
    created_at       TEXT NOT NULL,
    updated_at       TEXT,
    last_accessed    TEXT,
    is_active        INTEGER NOT NULL DEFAULT 1,
    is_archived      INTEGER NOT NULL DEFAULT 0,
    access_count     INTEGER NOT NULL DEFAULT 0
);

CREATE UNIQUE INDEX idx_memories_dedup ON memories(namespace_id, content_hash) WHERE is_active = 1;
CREATE INDEX idx_memories_namespace ON memories(namespace_id, created_at);
CREATE INDEX idx_memories_category ON memories(category);
CREATE INDEX idx_memories_created ON memories(created_at);
CREATE INDEX idx_memories_level ON memories(namespace_id, level);
CREATE INDEX idx_memories_session ON memories(session_key);
CREATE INDEX idx_memories_cognitive_perspective ON memories(
    namespace_id,
    json_extract(metadata, '$.cognitive.observer'),
    json_extract(metadata, '$.cognitive.subject'),
    session_key
);

CREATE VIRTUAL TABLE memories_fts USING fts5(
    content, context, labels,
    content = 'memories', content_rowid = 'id',
    tokenize = 'porter unicode61 remove_diacritics 2'
);

CREATE TRIGGER memories_fts_ai AFTER INSERT ON memories BEGIN
    INSERT INTO memories_fts(rowid, content, context, labels)
    VALUES (new.id, new.content, new.context, new.labels);
END;

CREATE TRIGGER memories_fts_ad AFTER DELETE ON memories BEGIN
    INSERT INTO memories_fts(memories_fts, rowid, content, context, labels)
    VALUES ('delete', old.id, old.content, old.context, old.labels);
END;

CREATE TRIGGER memories_fts_au AFTER UPDATE OF content, context, labels ON memories BEGIN
    INSERT INTO memories_fts(memories_fts, rowid, content, context, labels)
    VALUES ('delete', old.id, old.content, old.context, old.labels);
    INSERT INTO memories_fts(rowid, content, context, labels)
    VALUES (new.id, new.content, new.context, new.labels);
END;

CREATE TABLE memory_relations (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    source_memory_id INTEGER NOT NULL REFERENCES memories(id) ON DELETE CASCADE,
    target_memory_id INTEGER NOT NULL REFERENCES memories(id) ON DELETE CASCADE,
    relation_type    TEXT NOT NULL,
    strength         REAL NOT NULL DEFAULT 1.0,
    metadata         TEXT,
    created_at       TEXT NOT NULL,
    UNIQUE (source_memory_id, target_memory_id, relation_type)
);
CREATE INDEX idx_relations_target ON memory_relations(target_memory_id);

CREATE TABLE memory_evidence (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    derived_memory_id INTEGER NOT NULL REFERENCES memories(id) ON DELETE CASCADE,
    source_memory_id  INTEGER NOT NULL REFERENCES memories(id) ON DELETE CASCADE,
    evidence_role     TEXT NOT NULL,
    created_at        TEXT NOT NULL,
    UNIQUE (derived_memory_id, source_memory_id, evidence_role)
);
CREATE INDEX idx_evidence_derived ON memory_evidence(derived_memory_id);
CREATE INDEX idx_evidence_source ON memory_evidence(source_memory_id);

CREATE TABLE memory_jobs (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    namespace_id     INTEGER NOT NULL REFERENCES agent_namespaces(id) ON DELETE CASCADE,
    job_type         TEXT NOT NULL,
    status           TEXT NOT NULL DEFAULT 'pending',
    priority         INTEGER NOT NULL DEFAULT 100,
    perspective_json TEXT,
    payload_json     TEXT NOT NULL,
    dedup_key        TEXT,
    lease_owner      TEXT,
    claim_token      TEXT,
    lease_expires_at TEXT,
    attempts         INTEGER NOT NULL DEFAULT 0,
    last_error       TEXT,
    created_at       TEXT NOT NULL,
    updated_at       TEXT NOT NULL
);
CREATE INDEX idx_memory_jobs_ready ON memory_jobs(status, priority, created_at);
CREATE INDEX idx_memory_jobs_dedup ON memory_jobs(dedup_key, status);

CREATE TABLE session_digests (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    namespace_id    INTEGER NOT NULL REFERENCES agent_namespaces(id) ON DELETE CASCADE,
    session_key     TEXT NOT NULL,
    digest_kind     TEXT NOT NULL CHECK (digest_kind IN ('short', 'long')),
    memory_id       INTEGER NOT NULL REFERENCES memories(id) ON DELETE CASCADE,
    start_memory_id INTEGER,
    end_memory_id   INTEGER,
    token_count     INTEGER NOT NULL DEFAULT 0,
    created_at      TEXT NOT NULL
);
CREATE UNIQUE INDEX idx_session_digests_unique
    ON session_digests(namespace_id, session_key, digest_kind, end_memory_id);

CREATE TABLE system_metrics (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    metric_name  TEXT NOT NULL,
    metric_value REAL NOT NULL,
    labels       TEXT NOT NULL DEFAULT '{}',
    recorded_at  TEXT NOT NULL
);
CREATE INDEX idx_metrics_name ON system_metrics(metric_name, recorded_at);

CREATE TABLE processed_files (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    namespace_id INTEGER NOT NULL REFERENCES agent_namespaces(id) ON DELETE CASCADE,
    path         TEXT NOT NULL,
    content_hash TEXT,
    status       TEXT NOT NULL DEFAULT 'pending',
    memory_id    INTEGER,
    last_error   TEXT,
    processed_at TEXT,
    created_at   TEXT NOT NULL,
    updated_at   TEXT,
    UNIQUE (namespace_id, path)
);
