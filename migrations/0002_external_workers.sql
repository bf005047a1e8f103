-- jobqueue schema, version 2: external workers (WORKERS.md).
-- Forward-only: once released, this file is never edited.

-- A job of an external handler is served by worker programs over the
-- socket, never claimed by the daemon's own workers. Set at enqueue from
-- the handler's config, and again for waiting jobs when the config changes.
ALTER TABLE jobs ADD COLUMN external INTEGER NOT NULL DEFAULT 0 CHECK (external IN (0, 1));
-- The fencing token of the running attempt of an external job: only a call
-- that gives it may extend or end the attempt. NULL for the daemon's own jobs.
ALTER TABLE jobs ADD COLUMN lease_token TEXT;
-- The worker name the reserver gave (shown, never trusted).
ALTER TABLE jobs ADD COLUMN lease_worker TEXT;
-- The lease length the attempt was reserved with: a heartbeat's default.
ALTER TABLE jobs ADD COLUMN lease_ms INTEGER;
-- The latest progress a heartbeat reported (JSON text), kept after the end.
ALTER TABLE jobs ADD COLUMN progress TEXT;

-- The daemon claims only its own jobs, workers reserve only external ones:
-- each ready job is in exactly one of these two indexes, so a job still
-- costs one index entry while it is ready.
DROP INDEX jobs_ready;
CREATE INDEX jobs_ready ON jobs (queue, priority DESC, run_at, id) WHERE state = 'queued' AND external = 0;
CREATE INDEX jobs_ready_external ON jobs (handler, queue, priority DESC, run_at, id) WHERE state = 'queued' AND external = 1;
