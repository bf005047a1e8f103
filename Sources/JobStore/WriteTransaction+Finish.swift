import JobCore

/// How a failed attempt should go on, decided by the engine.
public enum FailureDisposition: Hashable, Sendable {
    /// Retry after this backoff if attempts remain (0: at once), else `failed`.
    case retry(afterMs: Int64)
    /// `failed` now, whatever attempts remain.
    case permanent
}

extension WriteTransaction {
    /// `running` -> `succeeded`, only if the job is still running `attempt`.
    /// Returns nil (and changes nothing) for a late or duplicate completion.
    func complete(_ id: JobID, attempt: Int, result: RawJSON?, resultTruncated: Bool) throws(StoreError) -> Job? {
        let job = try connection.firstRow("complete", Self.markSucceeded, [
            .int(now.rawValue), .optionalText(result?.text), .int(resultTruncated ? 1 : 0),
            .int(id.rawValue), .int(Int64(attempt)),
        ], JobRow.decode)
        if let job { try moved(job, from: .running) }
        return job
    }

    /// Records a failed attempt: `retrying`/`queued` while attempts remain
    /// and the failure is not permanent, else `failed`. Guarded like `complete`.
    func fail(_ id: JobID, attempt: Int, failure: JobFailure, disposition: FailureDisposition) throws(StoreError) -> Job? {
        let current = try connection.firstRow(
            "fail", Self.runningAttempt, [.int(id.rawValue), .int(Int64(attempt))]
        ) { row throws(StoreError) in (maxAttempts: Int(row.int(0)), errors: try JobRow.decodeErrors(row.text(1))) }
        guard let current else { return nil }

        let event: JobEvent
        var runAt: Timestamp? = nil
        switch disposition {
        case .retry(let delay) where attempt < current.maxAttempts:
            event = delay > 0 ? .failedWillRetryLater : .failedWillRetryNow
            runAt = now.adding(milliseconds: max(delay, 0))
        case .retry, .permanent:
            event = .failedForGood
        }
        let errors = current.errors.appending(failure: failure)
        let job = try connection.firstRow("fail", Self.markFailed, [
            .text(event.target.rawValue), .text(JobRow.encodeErrors(errors)), .optionalInt(runAt?.rawValue),
            .optionalInt(event.target.isTerminal ? now.rawValue : nil),
            .int(id.rawValue), .int(Int64(attempt)),
        ], JobRow.decode)
        if let job {
            metricEvents.note(.attemptFailed(failure.reason), queue: job.queue, handler: job.handler)
            try moved(job, from: .running, attemptRan: failure.reason != .interrupted)
        }
        return job
    }

    /// Jobs left `running` by an earlier run of the daemon (a crash, a kill)
    /// each count as a failed attempt (external jobs are not: their leases
    /// run on, WORKERS.md); `retryDelayMs` gives each one's backoff.
    func recoverInterrupted(retryDelayMs: (Job) -> Int64) throws(StoreError) -> [Job] {
        let orphans = try connection.rows(
            "recover", "SELECT \(JobRow.columns) FROM jobs WHERE state = 'running' AND lease_owner IS NOT ? AND lease_token IS NULL ORDER BY id",
            [.text(leaseOwner)], JobRow.decode)
        var recovered: [Job] = []
        for job in orphans {
            if job.startedAt == nil {
                // Claimed ahead, never started: as if it had not been claimed.
                try releaseUnstarted([(job.id, job.attempts)])
                if let back = try? self.job(job.id, operation: "recover") { recovered.append(back) }
                continue
            }
            let failure = JobFailure(message: JobFailure.interruptedMessage, at: now)
            if let job = try fail(job.id, attempt: job.attempts, failure: failure,
                                  disposition: .retry(afterMs: retryDelayMs(job))) {
                recovered.append(job)
            }
        }
        return recovered
    }

    private static let markSucceeded = """
        UPDATE jobs SET state = '\(JobEvent.succeeded.target)', finished_at = ?, result = ?, result_truncated = ?,
                        lease_owner = NULL, lease_expires_at = NULL, lease_token = NULL, lease_worker = NULL
        WHERE id = ? AND \(SQLStates.guardFor(.succeeded)) AND attempts = ?
        RETURNING \(JobRow.columns)
        """

    private static let runningAttempt = """
        SELECT max_attempts, errors FROM jobs WHERE id = ? AND state = 'running' AND attempts = ?
        """

    private static let markFailed = """
        UPDATE jobs SET state = ?, errors = ?, run_at = coalesce(?, run_at), finished_at = ?,
                        lease_owner = NULL, lease_expires_at = NULL, lease_token = NULL, lease_worker = NULL
        WHERE id = ? AND state = 'running' AND attempts = ?
        RETURNING \(JobRow.columns)
        """
}
