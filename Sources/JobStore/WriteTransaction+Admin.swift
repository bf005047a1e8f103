import JobCore

extension WriteTransaction {
    /// Any unfinished job -> `cancelled`. A running job's late completion is
    /// then ignored by the guards of `complete` and `fail`.
    func cancel(_ id: JobID) throws(StoreError) -> CancelOutcome {
        let before = try job(id, operation: "cancel")
        guard before.state.after(.cancelled) != nil else {
            throw .invalidState(id, state: before.state, operation: "cancel")
        }
        let job = try connection.firstRow("cancel", Self.markCancelled, [.int(now.rawValue), .int(id.rawValue)], JobRow.decode)
        guard let job else { throw .internalError(operation: "cancel", message: "job \(id) changed during cancel") }
        try moved(job, from: before.state)
        return CancelOutcome(job: job, previousState: before.state)
    }

    /// `failed`/`cancelled` -> `queued` with attempts from 0; `errors` keeps the history.
    func retry(_ id: JobID, isExternal: (String) -> Bool) throws(StoreError) -> Job {
        let before = try job(id, operation: "retry")
        guard before.state.after(.retried) != nil else {
            throw .invalidState(id, state: before.state, operation: "retry")
        }
        if let key = before.uniqueKey, let holder = try activeJob(uniqueKey: key) {
            throw .uniqueKeyInUse(id, uniqueKey: key, heldBy: holder.id)
        }
        try reserveActiveSlot()
        // A job enqueued after others waits again for those not succeeded
        // (retry them too: it runs once they have).
        let waitFor = before.after.isEmpty ? [] : try checkDependencies(before.after, failedArePending: true).pending
        let state = waitFor.isEmpty ? JobEvent.retried.target : JobEvent.retriedBlocked.target
        // Who serves it is the config's now, not what it was when it failed.
        let job = try connection.firstRow("retry", Self.markRetried, [
            .int(now.rawValue), .int(id.rawValue), .int(isExternal(before.handler) ? 1 : 0), .text(state.rawValue),
            .int(Int64(waitFor.count)),
        ], JobRow.decode)
        guard let job else { throw .internalError(operation: "retry", message: "job \(id) changed during retry") }
        counts.move(job.queue, from: before.state, to: job.state)
        if !waitFor.isEmpty { try recordDependencies(of: id.rawValue, on: waitFor) }
        if job.state == .queued, let key = job.concurrencyKey { try admitOrHold(id.rawValue, handler: job.handler, key: key) }
        return job
    }

    /// Persists whether `queue` starts jobs. Returns the new setting.
    func setPaused(_ queue: String, _ paused: Bool) throws(StoreError) -> Bool {
        try connection.run(paused ? "pause" : "resume", """
            INSERT INTO queues (name, paused, updated_at) VALUES (?, ?, ?)
            ON CONFLICT (name) DO UPDATE SET paused = excluded.paused, updated_at = excluded.updated_at
            """, [.text(queue), .int(paused ? 1 : 0), .int(now.rawValue)])
        return paused
    }

    /// Deletes at most `batchSize` jobs of each terminal state that finished
    /// longer ago than its retention. Returns how many were deleted; call
    /// again while it is not 0 (small batches keep each transaction short).
    func prune(retentionMs: [JobState: Int64], batchSize: Int) throws(StoreError) -> Int {
        var deleted = 0
        for (state, keep) in retentionMs.sorted(by: { $0.key.rawValue < $1.key.rawValue }) where state.isTerminal {
            let queues = try connection.rows("prune", Self.pruneState, [
                .text(state.rawValue), .int(now.adding(milliseconds: -keep).rawValue), .int(Int64(batchSize)),
            ]) { $0.text(0) }
            for queue in queues { counts.add(queue, state, -1) }
            deleted += queues.count
        }
        return deleted
    }

    /// A job claimed ahead that never started did not make an attempt.
    /// (Its start, if recorded, is applied first: deferred writes lead each transaction.)
    private static let markCancelled = """
        UPDATE jobs SET state = '\(JobEvent.cancelled.target)', finished_at = ?, lease_owner = NULL, lease_expires_at = NULL,
                        lease_token = NULL, lease_worker = NULL, blocked_on = 0, key_held = 0,
                        attempts = attempts - (state = 'running' AND started_at IS NULL)
        WHERE id = ? AND \(SQLStates.guardFor(.cancelled))
        RETURNING \(JobRow.columns)
        """

    private static let markRetried = """
        UPDATE jobs SET state = ?4, blocked_on = ?5, attempts = 0, run_at = ?1, started_at = NULL,
                        finished_at = NULL, result = NULL, result_truncated = 0, external = ?3
        WHERE id = ?2 AND \(SQLStates.guardFor(.retried))
        RETURNING \(JobRow.columns)
        """

    private static let pruneState = """
        DELETE FROM jobs WHERE id IN (
            SELECT id FROM jobs WHERE state = ? AND finished_at IS NOT NULL AND finished_at < ?
            ORDER BY finished_at LIMIT ?)
        RETURNING queue
        """
}
