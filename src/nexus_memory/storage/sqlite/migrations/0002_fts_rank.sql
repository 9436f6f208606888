-- FTS5 `rank` = BM25 with column weights: content 1.0, retrieval context 0.5, labels 0.3.
-- Queries then say ORDER BY rank, which FTS5 sorts internally (snippets only for returned rows).
INSERT INTO memories_fts(memories_fts, rank) VALUES ('rank', 'bm25(1.0, 0.5, 0.3)');
