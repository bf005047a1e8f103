-- jobqueue schema, version 4: dependencies and concurrency keys (SCHEDULING.md).
-- Forward-only: once released, this file is never edited.
--
-- The new state `blocked` needs a new CHECK on `state`, and SQLite cannot
-- change a CHECK in place: the jobs table is rebuilt (every row copied,
-- ids and the AUTOINCREMENT counter kept), then its indexes and trigger.

CREATE TABLE jobs_v4 (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    queue            TEXT    NOT NULL CHECK (length(queue) BETWEEN 1 AND 255),
    handler          TEXT    NOT NULL CHECK (length(handler) BETWEEN 1 AND 255),
    payload          TEXT    NOT NULL DEFAULT 'null',
    state            TEXT    NOT NULL CHECK (state IN
                         ('blocked', 'scheduled', 'queued', 'running', 'retrying', 'succeeded', 'failed', 'cancelled')),
    priority         INTEGER NOT NULL DEFAULT 0 CHECK (priority BETWEEN -1000 AND 1000),
    attempts         INTEGER NOT NULL DEFAULT 0 CHECK (attempts BETWEEN 0 AND max_attempts),
    max_attempts     INTEGER NOT NULL CHECK (max_attempts BETWEEN 1 AND 1000),
    timeout_ms       INTEGER NOT NULL CHECK (timeout_ms BETWEEN 1 AND 315360000000),
    unique_key       TEXT,
    tags             TEXT    NOT NULL DEFAULT '[]',
    created_at       INTEGER NOT NULL,
    run_at           INTEGER NOT NULL,
    started_at       INTEGER,
    finished_at      INTEGER,
    result           TEXT,
    result_truncated INTEGER NOT NULL DEFAULT 0 CHECK (result_truncated IN (0, 1)),
    errors           TEXT    NOT NULL DEFAULT '[]',
    lease_owner      TEXT,
    lease_expires_at INTEGER,
    external         INTEGER NOT NULL DEFAULT 0 CHECK (external IN (0, 1)),
    lease_token      TEXT,
    lease_worker     TEXT,
    lease_ms         INTEGER,
    progress         TEXT,
    schedule         TEXT,
    -- Dependencies: the ids the job was enqueued `after` (JSON array, as
    -- given; NULL for none), how many of them have not succeeded yet, and
    -- whether some job waits for this one (so an end looks for dependents
    -- only when there are some).
    after_ids        TEXT,
    blocked_on       INTEGER NOT NULL DEFAULT 0 CHECK (blocked_on >= 0),
    has_dependents   INTEGER NOT NULL DEFAULT 0 CHECK (has_dependents IN (0, 1)),
    -- Concurrency keys: at most `key_concurrency` jobs of a handler with the
    -- same key are running or ready to claim; the others are `queued` with
    -- key_held = 1, outside the claim's index, until one of those ends.
    concurrency_key  TEXT    CHECK (length(CAST(concurrency_key AS BLOB)) BETWEEN 1 AND 128),
    key_held         INTEGER NOT NULL DEFAULT 0 CHECK (key_held IN (0, 1)),
    CHECK ((state = 'running') = (lease_owner IS NOT NULL)),
    CHECK ((state IN ('succeeded', 'failed', 'cancelled')) = (finished_at IS NOT NULL)),
    CHECK ((state = 'blocked') = (blocked_on > 0)),
    CHECK (key_held = 0 OR (state = 'queued' AND concurrency_key IS NOT NULL))
);

INSERT INTO jobs_v4 (id, queue, handler, payload, state, priority, attempts, max_attempts, timeout_ms, unique_key, tags,
                     created_at, run_at, started_at, finished_at, result, result_truncated, errors, lease_owner,
                     lease_expires_at, external, lease_token, lease_worker, lease_ms, progress, schedule)
SELECT id, queue, handler, payload, state, priority, attempts, max_attempts, timeout_ms, unique_key, tags,
       created_at, run_at, started_at, finished_at, result, result_truncated, errors, lease_owner,
       lease_expires_at, external, lease_token, lease_worker, lease_ms, progress, schedule
FROM jobs;

-- Ids are never reused: the counter goes on from the old table's, which
-- may be past the largest id left (the newest jobs may have been pruned).
INSERT INTO sqlite_sequence (name, seq) SELECT 'jobs_v4', 0 WHERE NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'jobs_v4');
UPDATE sqlite_sequence SET seq = max(seq, coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'jobs'), 0))
WHERE name = 'jobs_v4';

DROP TABLE jobs;
ALTER TABLE jobs_v4 RENAME TO jobs;

-- Claim: the next ready jobs of one queue (the daemon's own), and of one
-- handler (external workers). A job held back by its key is in neither.
CREATE INDEX jobs_ready ON jobs (queue, priority DESC, run_at, id)
    WHERE state = 'queued' AND external = 0 AND key_held = 0;
CREATE INDEX jobs_ready_external ON jobs (handler, queue, priority DESC, run_at, id)
    WHERE state = 'queued' AND external = 1 AND key_held = 0;

-- Promotion and the scheduler's timer: the earliest run_at of a waiting job.
CREATE INDEX jobs_waiting ON jobs (run_at) WHERE state IN ('scheduled', 'retrying');

-- list --state, and recovery of running jobs.
CREATE INDEX jobs_state ON jobs (state, id);

-- Retention: the oldest finished jobs of one terminal state.
CREATE INDEX jobs_finished ON jobs (state, finished_at) WHERE finished_at IS NOT NULL;

-- At most one job that is not terminal per unique_key (blocked jobs hold theirs).
CREATE UNIQUE INDEX jobs_unique_key ON jobs (unique_key)
    WHERE unique_key IS NOT NULL AND state IN ('blocked', 'scheduled', 'queued', 'running', 'retrying');

-- Concurrency keys: the jobs of a key that are running or ready (at most
-- key_concurrency of them), and the held ones in the order they are let go.
CREATE INDEX jobs_key_admitted ON jobs (handler, concurrency_key)
    WHERE concurrency_key IS NOT NULL AND key_held = 0 AND state IN ('queued', 'running');
CREATE INDEX jobs_key_held ON jobs (handler, concurrency_key, priority DESC, run_at, id)
    WHERE key_held = 1;

-- Dependencies: who waits for whom. A job's end reads its dependents by
-- this key (one index range), never the jobs table. Rows go once the
-- dependency has ended.
CREATE TABLE job_dependencies (
    depends_on INTEGER NOT NULL,
    job_id     INTEGER NOT NULL,
    PRIMARY KEY (depends_on, job_id)
) WITHOUT ROWID;

-- A deleted job takes its tags along (the trigger went with the old table).
CREATE TRIGGER jobs_delete_tags AFTER DELETE ON jobs WHEN OLD.tags <> '[]'
BEGIN
    DELETE FROM job_tags WHERE job_id = OLD.id;
END;
