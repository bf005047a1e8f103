-- jobqueue schema for PostgreSQL, version 2: recurring jobs (SCHEDULING.md),
-- fired by the cluster's leader (CLUSTER.md), external workers'
-- reservations (WORKERS.md), dependencies, concurrency keys and rate
-- limits (SCHEDULING.md). The columns follow SQLite's (migrations/0002_*.sql to
-- 0004_*.sql); the jobs table had their columns from version 1.
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

-- Concurrency keys: the jobs of a key that are running or ready (at most
-- key_concurrency of them, counted under a transaction-scoped advisory
-- lock on the key, so that nodes admit one at a time), and the held ones
-- in the order they are let go.
CREATE INDEX jobs_key_admitted ON jobs (handler, concurrency_key)
    WHERE concurrency_key IS NOT NULL AND NOT key_held AND state IN ('queued', 'running');
CREATE INDEX jobs_key_held ON jobs (handler, concurrency_key, priority DESC, run_at, id)
    WHERE key_held;

-- Dependencies: who waits for whom, one row per pair while the dependency
-- has not ended. A job's end reads its dependents by this key.
CREATE TABLE job_dependencies (
    depends_on bigint NOT NULL,
    job_id     bigint NOT NULL,
    PRIMARY KEY (depends_on, job_id)
);

-- Rate limits, counted across the cluster: the latest starts (ms, at most
-- `count` of them) of each rate-limited handler ("handler:NAME") or queue
-- ("queue:NAME"). A claim locks the rows of the limits it must respect.
CREATE TABLE rate_windows (
    key    text     PRIMARY KEY,
    starts bigint[] NOT NULL DEFAULT '{}'
);
