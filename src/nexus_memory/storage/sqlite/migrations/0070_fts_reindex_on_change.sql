-- The full-text row is rewritten only when the indexed text changed. Merging a repeated memory (the same
-- prompt asked again, the same tool output) updates its labels column with the same labels and bumps its
-- access count; the trigger fired on the column being named, so every merge deleted and re-inserted the
-- row in the FTS index and often set off a segment merge, inside the hook's write transaction.
DROP TRIGGER IF EXISTS memories_fts_au;
CREATE TRIGGER memories_fts_au AFTER UPDATE OF content, context, labels ON memories
WHEN old.content IS NOT new.content OR old.context IS NOT new.context OR old.labels IS NOT new.labels BEGIN
    INSERT INTO memories_fts(memories_fts, rowid, content, context, labels)
    VALUES ('delete', old.id, old.content, old.context, old.labels);
    INSERT INTO memories_fts(rowid, content, context, labels)
    VALUES (new.id, new.content, new.context, new.labels);
END;
