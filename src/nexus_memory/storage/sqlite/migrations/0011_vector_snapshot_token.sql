-- A random identity for this database's vectors: a memory-mapped snapshot of the
-- vector matrix (beside the database file) is only used by the database that wrote it,
-- never by a new database created at the same path.
ALTER TABLE vector_log ADD COLUMN token TEXT;
UPDATE vector_log SET token = lower(hex(randomblob(8))) WHERE id = 1;
