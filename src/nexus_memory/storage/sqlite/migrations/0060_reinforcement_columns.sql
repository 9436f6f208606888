-- Reinforcement and contradiction counts copied out of metadata.cognitive (storage/common.derived_columns),
-- so the "reinforced" and "contradicted" orders sort a column instead of parsing every row's JSON: the
-- session-start pack sorts a project's memories this way at every session start (41 ms of JSON at 10k).
ALTER TABLE memories ADD COLUMN times_reinforced INTEGER NOT NULL DEFAULT 0;
ALTER TABLE memories ADD COLUMN times_contradicted INTEGER NOT NULL DEFAULT 0;
UPDATE memories SET times_reinforced = CAST(json_extract(metadata, '$.cognitive.times_reinforced') AS INTEGER)
    WHERE json_type(metadata, '$.cognitive.times_reinforced') IN ('integer', 'real');
UPDATE memories SET times_contradicted = CAST(json_extract(metadata, '$.cognitive.times_contradicted') AS INTEGER)
    WHERE json_type(metadata, '$.cognitive.times_contradicted') IN ('integer', 'real');
