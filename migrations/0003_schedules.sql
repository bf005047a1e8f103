-- jobqueue schema, version 3: recurring jobs (SCHEDULING.md, "Recurring jobs").
-- Forward-only: once released, this file is never edited.

-- The schedule whose tick enqueued the job (NULL for every other job).
ALTER TABLE jobs ADD COLUMN schedule TEXT;

-- One row per configured schedule. The tick a job was enqueued for is
-- committed here in the same transaction as the job, so a tick is fired
-- exactly once across crashes and restarts.
CREATE TABLE schedules (
    name        TEXT    PRIMARY KEY,
    definition  TEXT    NOT NULL,   -- the cron expression and zone, or the period: a change starts afresh
    anchor      INTEGER NOT NULL,   -- when the definition was first seen: `every` counts from it
    last_tick   INTEGER NOT NULL,   -- the latest tick fired, skipped or caught up (ms); ticks after it are due
    last_run_at INTEGER,            -- when the latest job of the schedule was enqueued
    last_job_id INTEGER,            -- that job (overlap: skip looks at it)
    paused      INTEGER NOT NULL DEFAULT 0 CHECK (paused IN (0, 1)),
    skipped     INTEGER NOT NULL DEFAULT 0 CHECK (skipped >= 0),  -- ticks skipped by overlap: skip
    updated_at  INTEGER NOT NULL
) WITHOUT ROWID;
