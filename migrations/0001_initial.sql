-- jobqueue schema, version 1.
-- Times are integer milliseconds since the Unix epoch (UTC).
-- Forward-only: once released, this file is never edited; changes go in 0002_*.sql.

-- Every job, from enqueue until retention deletes it.
-- AUTOINCREMENT: an id is never reused, even after the newest job is pruned.
CREATE TABLE jobs (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    queue            TEXT    NOT NULL CHECK (length(queue) BETWEEN 1 AND 255),
    handler          TEXT    NOT NULL CHECK (length(handler) BETWEEN 1 AND 255),
    payload          TEXT    NOT NULL DEFAULT 'null',
    state            TEXT    NOT NULL CHECK (state IN
                         ('scheduled', 'queued', 'running', 'retrying', 'succeeded', 'failed', 'cancelled')),
    priority         INTEGER NOT NULL DEFAULT 0 CHECK (priority BETWEEN -1000 AND 1000),
    attempts         INTEGER NOT NULL DEFAULT 0 CHECK (attempts BETWEEN 0 AND max_attempts),
    max_attempts     INTEGER NOT NULL CHECK (max_attempts BETWEEN 1 AND 1000),
    timeout_ms       INTEGER NOT NULL CHECK (timeout_ms BETWEEN 1 AND 315360000000),
    unique_key       TEXT,
    tags             TEXT    NOT NULL DEFAULT '[]',  -- JSON array of strings; searchable copy in job_tags
    created_at       INTEGER NOT NULL,
    run_at           INTEGER NOT NULL,
    started_at       INTEGER,                        -- start of the latest attempt
    finished_at      INTEGER,                        -- set exactly while the state is terminal
    result           TEXT,                           -- JSON text
    result_truncated INTEGER NOT NULL DEFAULT 0 CHECK (result_truncated IN (0, 1)),
    errors           TEXT    NOT NULL DEFAULT '[]',  -- JSON array of failures, oldest first, at most 20
    lease_owner      TEXT,                           -- the daemon run holding a running job
    lease_expires_at INTEGER,                        -- reserved for external workers
    CHECK ((state = 'running') = (lease_owner IS NOT NULL)),
    CHECK ((state IN ('succeeded', 'failed', 'cancelled')) = (finished_at IS NOT NULL))
);

-- Claim: the next ready jobs of one queue, in priority DESC, run_at, id order.
CREATE INDEX jobs_ready ON jobs (queue, priority DESC, run_at, id) WHERE state = 'queued';

-- Promotion and the scheduler's timer: the earliest run_at of a waiting job.
CREATE INDEX jobs_waiting ON jobs (run_at) WHERE state IN ('scheduled', 'retrying');

-- list --state, and recovery of running jobs, without scanning every job.
CREATE INDEX jobs_state ON jobs (state, id);

-- Retention: the oldest finished jobs of one terminal state.
CREATE INDEX jobs_finished ON jobs (state, finished_at) WHERE finished_at IS NOT NULL;

-- At most one job that is not terminal per unique_key.
CREATE UNIQUE INDEX jobs_unique_key ON jobs (unique_key)
    WHERE unique_key IS NOT NULL AND state IN ('scheduled', 'queued', 'running', 'retrying');

-- Tags, one row each, for list --tag.
CREATE TABLE job_tags (
    job_id INTEGER NOT NULL,
    tag    TEXT    NOT NULL,
    PRIMARY KEY (job_id, tag)
) WITHOUT ROWID;
CREATE INDEX job_tags_tag ON job_tags (tag, job_id);

-- Queues that have been paused or resumed; a queue with no row is running.
CREATE TABLE queues (
    name       TEXT    PRIMARY KEY CHECK (length(name) BETWEEN 1 AND 255),
    paused     INTEGER NOT NULL DEFAULT 0 CHECK (paused IN (0, 1)),
    updated_at INTEGER NOT NULL
) WITHOUT ROWID;

-- How many jobs each queue holds in each state, so that stats and the
-- max_queued_jobs check never count rows. The daemon's writer keeps it: it
-- adds up each transaction's state changes and applies them before COMMIT
-- (one row per queue and state touched, not one per job as a trigger would).
CREATE TABLE job_counts (
    queue TEXT    NOT NULL,
    state TEXT    NOT NULL,
    n     INTEGER NOT NULL CHECK (n >= 0),
    PRIMARY KEY (queue, state)
) WITHOUT ROWID;

-- A deleted job takes its tags along.
CREATE TRIGGER jobs_delete_tags AFTER DELETE ON jobs WHEN OLD.tags <> '[]'
BEGIN
    DELETE FROM job_tags WHERE job_id = OLD.id;
END;
