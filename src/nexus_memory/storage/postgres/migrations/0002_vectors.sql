-- Embedding vectors per (memory, model, kind), pgvector. The column has no fixed
-- dimension (one table serves every model); the store creates one partial HNSW
-- index per model on first use: ((embedding::vector(DIM)) vector_cosine_ops)
-- WHERE model = '<model>', the pattern pgvector documents for mixed dimensions.

CREATE EXTENSION IF NOT EXISTS vector;

CREATE TABLE memory_vectors (
    memory_id  BIGINT NOT NULL REFERENCES memories(id) ON DELETE CASCADE,
    model      TEXT NOT NULL,
    kind       TEXT NOT NULL DEFAULT 'content',
    dim        INTEGER NOT NULL,
    embedding  vector NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (memory_id, model, kind)
);
CREATE INDEX idx_memory_vectors_model ON memory_vectors(model, memory_id);

-- Which models have an HNSW index, and of which dimension.
CREATE TABLE vector_models (
    model      TEXT PRIMARY KEY,
    dim        INTEGER NOT NULL,
    index_name TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- Changing a memory's content or context makes its vectors stale: drop them, so the
-- memory shows up in memories_without_vectors again (same rule as SQLite 0010).
CREATE FUNCTION nexus_drop_stale_vectors() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM memory_vectors WHERE memory_id = NEW.id;
    RETURN NEW;
END;
$$;

CREATE TRIGGER memories_vectors_stale AFTER UPDATE OF content, context ON memories
FOR EACH ROW WHEN (OLD.content IS DISTINCT FROM NEW.content OR OLD.context IS DISTINCT FROM NEW.context)
EXECUTE FUNCTION nexus_drop_stale_vectors();
