-- Embedding vectors (issue 3): one row per (memory, model, kind).
--  * `kind` names which text was embedded: "content" (the memory alone) or
--    "context" (the memory with its retrieval context); a memory scores the max.
--  * vectors are little-endian float32 BLOBs; `dim` guards against mixing sizes.
--  * a rowid table on purpose: new rows get larger rowids, so a reader's cached
--    matrix can be extended with `rowid > last seen`; `vector_log.deletions`
--    counts removals so a cache knows when it must be rebuilt instead.
--  * changing a memory's content or context deletes its now-stale vectors.

CREATE TABLE memory_vectors (
    memory_id  INTEGER NOT NULL REFERENCES memories(id) ON DELETE CASCADE,
    model      TEXT NOT NULL,
    kind       TEXT NOT NULL DEFAULT 'content',
    dim        INTEGER NOT NULL,
    vector     BLOB NOT NULL,
    created_at TEXT NOT NULL,
    UNIQUE (memory_id, model, kind)
);
CREATE INDEX idx_memory_vectors_model ON memory_vectors(model, memory_id);

CREATE TABLE vector_log (
    id        INTEGER PRIMARY KEY CHECK (id = 1),
    deletions INTEGER NOT NULL DEFAULT 0
);
INSERT INTO vector_log(id, deletions) VALUES (1, 0);

CREATE TRIGGER memory_vectors_ad AFTER DELETE ON memory_vectors BEGIN
    UPDATE vector_log SET deletions = deletions + 1 WHERE id = 1;
END;

CREATE TRIGGER memories_vectors_stale AFTER UPDATE OF content, context ON memories
WHEN old.content IS NOT new.content OR old.context IS NOT new.context BEGIN
    DELETE FROM memory_vectors WHERE memory_id = new.id;
END;
