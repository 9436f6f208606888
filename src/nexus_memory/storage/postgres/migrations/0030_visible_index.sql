-- The memories every default read sees (active, not archived, not raw activity), by namespace:
-- counts (GET /api/v1/health, stats, the dashboard) can use an index-only scan of this small
-- partial index instead of reading each row of the table.
CREATE INDEX IF NOT EXISTS idx_memories_visible ON memories(namespace_id)
    WHERE is_active AND NOT is_archived AND NOT is_raw;
