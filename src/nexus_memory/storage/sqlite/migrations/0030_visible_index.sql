-- The memories every default read sees (active, not archived, not raw activity), by namespace:
-- counting them (GET /api/v1/health, stats, the dashboard) scans this small partial index instead
-- of reading each row of the table. 10k memories: 5.1 -> 0.55 ms through the app (15.8 -> 0.53 ms in
-- a fresh sqlite3 connection).
CREATE INDEX IF NOT EXISTS idx_memories_visible ON memories(namespace_id)
    WHERE is_active = 1 AND is_archived = 0 AND is_raw = 0;
