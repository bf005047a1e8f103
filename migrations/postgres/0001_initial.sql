-- jobqueue schema for PostgreSQL (CLUSTER.md), version 1.
-- Times are bigint milliseconds since the Unix epoch (UTC), read from the
-- database's clock (jq_now()), so that nodes with skewed clocks agree.
-- Forward-only: once released, this file is never edited; changes go in 0002_*.sql.

CREATE FUNCTION jq_now() RETURNS bigint LANGUAGE sql VOLATILE AS
    $$ SELECT (extract(epoch FROM clock_timestamp()) * 1000)::bigint $$;

-- Every job, from enqueue until retention deletes it. Identity ids are
-- never reused. Columns follow the SQLite schema's (migrations/*.sql).
CREATE TABLE jobs (
    id               bigint  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    queue            text    NOT NULL CHECK (length(queue) BETWEEN 1 AND 255),
    handler          text    NOT NULL CHECK (length(handler) BETWEEN 1 AND 255),
    payload          text    NOT NULL DEFAULT 'null',
    state            text    NOT NULL CHECK (state IN
                         ('blocked', 'scheduled', 'queued', 'running', 'retrying', 'succeeded', 'failed', 'cancelled')),
    priority         integer NOT NULL DEFAULT 0 CHECK (priority BETWEEN -1000 AND 1000),
    attempts         integer NOT NULL DEFAULT 0 CHECK (attempts BETWEEN 0 AND max_attempts),
    max_attempts     integer NOT NULL CHECK (max_attempts BETWEEN 1 AND 1000),
    timeout_ms       bigint  NOT NULL CHECK (timeout_ms BETWEEN 1 AND 315360000000),
    unique_key       text,
    tags             text    NOT NULL DEFAULT '[]',   -- JSON array of strings
    created_at       bigint  NOT NULL,
    run_at           bigint  NOT NULL,
    started_at       bigint,                          -- start of the latest attempt
    finished_at      bigint,                          -- set exactly while the state is terminal
    result           text,                            -- JSON text
    result_truncated boolean NOT NULL DEFAULT false,
    errors           text    NOT NULL DEFAULT '[]',   -- JSON array of failures, oldest first, at most 20
    lease_owner      text,                            -- the node running the job
    lease_expires_at bigint,
    external         boolean NOT NULL DEFAULT false,
    lease_token      text,
    lease_worker     text,
    lease_ms         bigint,
    progress         text,
    schedule         text,
    after_ids        text,
    blocked_on       integer NOT NULL DEFAULT 0 CHECK (blocked_on >= 0),
    has_dependents   boolean NOT NULL DEFAULT false,
    concurrency_key  text    CHECK (octet_length(concurrency_key) BETWEEN 1 AND 128),
    key_held         boolean NOT NULL DEFAULT false,
    CHECK ((state = 'running') = (lease_owner IS NOT NULL)),
    CHECK ((state IN ('succeeded', 'failed', 'cancelled')) = (finished_at IS NOT NULL)),
    CHECK ((state = 'blocked') = (blocked_on > 0)),
    CHECK (NOT key_held OR (state = 'queued' AND concurrency_key IS NOT NULL))
);

-- The claim: the next ready jobs of one queue, in priority DESC, run_at, id order.
CREATE INDEX jobs_ready ON jobs (queue, priority DESC, run_at, id)
    WHERE state = 'queued' AND NOT external AND NOT key_held;
-- Promotion and the timer: the earliest run_at of a waiting job.
CREATE INDEX jobs_waiting ON jobs (run_at) WHERE state IN ('scheduled', 'retrying');
-- list --state.
CREATE INDEX jobs_state ON jobs (state, id);
-- Rescue: the running jobs of one node.
CREATE INDEX jobs_running ON jobs (lease_owner, id) WHERE state = 'running';
-- Retention: the oldest finished jobs of one terminal state.
CREATE INDEX jobs_finished ON jobs (state, finished_at) WHERE finished_at IS NOT NULL;
-- At most one unfinished job per unique_key (INSERT ... ON CONFLICT uses it).
CREATE UNIQUE INDEX jobs_unique_key ON jobs (unique_key)
    WHERE unique_key IS NOT NULL AND state IN ('blocked', 'scheduled', 'queued', 'running', 'retrying');

-- Tags, one row each, for list --tag; they go with their job.
CREATE TABLE job_tags (
    job_id bigint NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    tag    text   NOT NULL,
    PRIMARY KEY (job_id, tag)
);
CREATE INDEX job_tags_tag ON job_tags (tag, job_id);

-- Queues that have been paused or resumed; a queue with no row is running.
CREATE TABLE queues (
    name       text    PRIMARY KEY CHECK (length(name) BETWEEN 1 AND 255),
    paused     boolean NOT NULL DEFAULT false,
    updated_at bigint  NOT NULL
);

-- Jobs per queue and state, kept per node: each node adds up its own
-- transactions' changes into its own rows, so that nodes never wait for
-- each other's count rows. stats sums them; a node's row may go negative
-- (a job enqueued on one node ends on another).
CREATE TABLE job_counts (
    node  text   NOT NULL,
    queue text   NOT NULL,
    state text   NOT NULL,
    n     bigint NOT NULL,
    PRIMARY KEY (node, queue, state)
);

-- The nodes of the cluster and their leases: a node's running jobs are
-- valid while its row's expires_at is ahead (renewed every lease / 3).
CREATE TABLE nodes (
    name       text   PRIMARY KEY,
    started_at bigint NOT NULL,
    renewed_at bigint NOT NULL,
    expires_at bigint NOT NULL
);

-- The leader: one row, taken by any node when it lapsed. `term` grows with
-- every election; a leader's actions check that the term is still theirs.
CREATE TABLE leader (
    id         integer PRIMARY KEY CHECK (id = 1),
    node       text    NOT NULL,
    term       bigint  NOT NULL,
    expires_at bigint  NOT NULL
);
