-- The memory loop (issue 12): two columns copied out of metadata (storage/common.derived_columns).
-- is_bookkeeping: runtime markers and session boundaries are records of a session, not memories;
-- default reads leave them out (the Sessions view asks for them). project: the project root a hook
-- or stage recorded, so recall and the session pack read one project's memories by index.
ALTER TABLE memories ADD COLUMN is_bookkeeping INTEGER NOT NULL DEFAULT 0;
ALTER TABLE memories ADD COLUMN project TEXT;
UPDATE memories SET is_bookkeeping = 1
    WHERE json_type(metadata, '$.runtime') = 'object' OR json_type(metadata, '$.session_lifecycle') = 'object'
       OR EXISTS (SELECT 1 FROM json_each(memories.labels)
                  WHERE lower(json_each.value) IN ('runtime', 'session-boundary'));
UPDATE memories SET project = substr(json_extract(metadata, '$.hook.project_root'), 1, 1000)
    WHERE json_type(metadata, '$.hook.project_root') = 'text';
CREATE INDEX IF NOT EXISTS idx_memories_project ON memories(project, created_at) WHERE project IS NOT NULL;
-- The visible memories now also exclude bookkeeping (same WHERE as filter_sql's defaults).
DROP INDEX IF EXISTS idx_memories_visible;
CREATE INDEX IF NOT EXISTS idx_memories_visible ON memories(namespace_id)
    WHERE is_active = 1 AND is_archived = 0 AND is_raw = 0 AND is_bookkeeping = 0;
