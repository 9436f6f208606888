-- Reinforcement and contradiction counts copied out of metadata.cognitive (storage/common.derived_columns),
-- so the "reinforced" and "contradicted" orders sort a column instead of parsing every row's JSON: the
-- session-start pack sorts a project's memories this way at every session start.
ALTER TABLE memories ADD COLUMN IF NOT EXISTS times_reinforced INTEGER NOT NULL DEFAULT 0;
ALTER TABLE memories ADD COLUMN IF NOT EXISTS times_contradicted INTEGER NOT NULL DEFAULT 0;
UPDATE memories SET times_reinforced = trunc((metadata -> 'cognitive' ->> 'times_reinforced')::numeric)::integer
    WHERE CASE WHEN jsonb_typeof(metadata -> 'cognitive' -> 'times_reinforced') = 'number'
               THEN abs((metadata -> 'cognitive' ->> 'times_reinforced')::numeric) < 2147483648 ELSE FALSE END;
UPDATE memories SET times_contradicted = trunc((metadata -> 'cognitive' ->> 'times_contradicted')::numeric)::integer
    WHERE CASE WHEN jsonb_typeof(metadata -> 'cognitive' -> 'times_contradicted') = 'number'
               THEN abs((metadata -> 'cognitive' ->> 'times_contradicted')::numeric) < 2147483648 ELSE FALSE END;
