-- jobqueue schema for PostgreSQL, version 2: recurring jobs (SCHEDULING.md),
-- fired by the cluster's leader (CLUSTER.md), and external workers'
-- reservations (WORKERS.md). The columns follow SQLite's
-- (migrations/0002_external_workers.sql, 0003_schedules.sql).
-- Forward-only: once released, this file is never edited.

-- One row per configured schedule, shared by every node. A firing locks
-- its row, checks that the firing node still leads, and commits the tick
-- with its job: a tick is enqueued exactly once across crashes and
-- changes of leader.
CREATE TABLE schedules (
    name        text    PRIMARY KEY,
    definition  text    NOT NULL,   -- the cron expression and zone, or the period: a change starts afresh
    anchor      bigint  NOT NULL,   -- when the definition was first seen: `every` counts from it
    last_tick   bigint  NOT NULL,   -- the latest tick fired, skipped or caught up (ms); ticks after it are due
    last_run_at bigint,             -- when the latest job of the schedule was enqueued
    last_job_id bigint,             -- that job (overlap: skip looks at it)
    paused      boolean NOT NULL DEFAULT false,
    skipped     bigint  NOT NULL DEFAULT 0 CHECK (skipped >= 0),  -- ticks skipped by overlap: skip
    updated_at  bigint  NOT NULL
);

-- reserve: the next ready external jobs of one handler in one queue.
CREATE INDEX jobs_ready_external ON jobs (handler, queue, priority DESC, run_at, id)
    WHERE state = 'queued' AND external AND NOT key_held;
