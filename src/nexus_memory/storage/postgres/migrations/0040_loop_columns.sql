-- The memory loop (issue 12): two columns copied out of metadata (storage/common.derived_columns).
-- is_bookkeeping: runtime markers and session boundaries are records of a session, not memories;
-- default reads leave them out (the Sessions view asks for them). project: the project root a hook
-- or stage recorded, so recall and the session pack read one project's memories by index.
ALTER TABLE memories ADD COLUMN IF NOT EXISTS is_bookkeeping BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE memories ADD COLUMN IF NOT EXISTS project TEXT;
UPDATE memories SET is_bookkeeping = TRUE
    WHERE jsonb_typeof(metadata -> 'runtime') = 'object' OR jsonb_typeof(metadata -> 'session_lifecycle') = 'object'
       OR EXISTS (SELECT 1 FROM jsonb_array_elements_text(labels) AS l(v) WHERE lower(l.v) IN ('runtime', 'session-boundary'));
UPDATE memories SET project = left(metadata -> 'hook' ->> 'project_root', 1000)
    WHERE jsonb_typeof(metadata -> 'hook' -> 'project_root') = 'string';
CREATE INDEX IF NOT EXISTS idx_memories_project ON memories(project, created_at) WHERE project IS NOT NULL;
-- The visible memories now also exclude bookkeeping (same WHERE as filter_sql's defaults).
DROP INDEX IF EXISTS idx_memories_visible;
CREATE INDEX IF NOT EXISTS idx_memories_visible ON memories(namespace_id)
    WHERE is_active AND NOT is_archived AND NOT is_raw AND NOT is_bookkeeping;
