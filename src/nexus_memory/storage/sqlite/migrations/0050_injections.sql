-- What memory costs (issue 16): one row per injection (session pack, prompt recall, MCP results).
-- day: the local calendar day of the writer, so the daily cap per agent is one indexed sum
-- (idx_injections_agent_day covers it: no table row is read).
CREATE TABLE IF NOT EXISTS injections (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    recorded_at  TEXT NOT NULL,
    day          TEXT NOT NULL,
    agent        TEXT NOT NULL,
    session_key  TEXT NOT NULL DEFAULT '',
    channel      TEXT NOT NULL,
    tokens       INTEGER NOT NULL,
    budget       INTEGER NOT NULL DEFAULT 0,
    project      TEXT,
    source       TEXT NOT NULL DEFAULT '',
    query        TEXT NOT NULL DEFAULT '',
    memory_ids   TEXT NOT NULL DEFAULT '[]',
    reasons      TEXT NOT NULL DEFAULT '{}',
    capped       INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS idx_injections_agent_day ON injections(agent, day, tokens);
CREATE INDEX IF NOT EXISTS idx_injections_day ON injections(day);
CREATE INDEX IF NOT EXISTS idx_injections_session ON injections(session_key, id);
