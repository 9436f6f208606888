-- HNSW indexes are built when a model first has enough vectors to need one (and by
-- `ensure_vector_index` after a bulk load), not on its first upsert: building once
-- over loaded rows is many times faster than growing the graph row by row, and a
-- few hundred vectors are searched exactly anyway. Indexes made by 0002 stay.
ALTER TABLE vector_models ADD COLUMN indexed BOOLEAN NOT NULL DEFAULT TRUE;
ALTER TABLE vector_models ALTER COLUMN indexed SET DEFAULT FALSE;
