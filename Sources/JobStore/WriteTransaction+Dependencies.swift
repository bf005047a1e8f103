import JobCore

/// Dependencies (SCHEDULING.md): a job enqueued `after` others is
/// `blocked` until each has succeeded. `job_dependencies` holds one row per
/// pair while the dependency has not ended, keyed by the dependency, so an
/// end finds its dependents in one index range: a fan-in or fan-out of n
/// jobs costs O(n) in all, whatever else the table holds.
extension WriteTransaction {
    /// The dependencies of a new (or retried) job: those not yet
    /// succeeded, and the first that already failed or was cancelled.
    struct DependencyCheck {
        var pending: [JobID] = []
        var failed: (id: JobID, state: JobState)?
    }

    /// Reads each dependency's state; one that does not exist is an error.
    /// `failedArePending` (a retry): a failed or cancelled one is waited for too.
    func checkDependencies(_ ids: [JobID], batchIndex: Int? = nil, failedArePending: Bool = false) throws(StoreError) -> DependencyCheck {
        var check = DependencyCheck()
        var seen = Set<JobID>()
        for id in ids where seen.insert(id).inserted {
            let state = try connection.firstRow("check dependencies", "SELECT state FROM jobs WHERE id = ?", [.int(id.rawValue)]) {
                JobState(rawValue: $0.text(0))
            }
            guard let found = state, let state = found else { throw .dependencyNotFound(id, index: batchIndex) }
            switch state {
            case .succeeded: continue
            case .failed, .cancelled:
                if failedArePending { check.pending.append(id) } else if check.failed == nil { check.failed = (id, state) }
            default: check.pending.append(id)
            }
        }
        return check
    }

    /// The message of a job cancelled because of its dependency.
    static func dependencyMessage(_ id: JobID, _ state: JobState) -> String {
        state == .failed ? "dependency \(id) failed" : "dependency \(id) was cancelled"
    }

    /// Records that `job` waits for each of `dependencies`.
    func recordDependencies(of job: Int64, on dependencies: [JobID]) throws(StoreError) {
        for dependency in dependencies {
            try connection.run("record dependencies", "INSERT OR IGNORE INTO job_dependencies (depends_on, job_id) VALUES (?, ?)",
                               [.int(dependency.rawValue), .int(job)])
            try connection.run("record dependencies", "UPDATE jobs SET has_dependents = 1 WHERE id = ? AND has_dependents = 0",
                               [.int(dependency.rawValue)])
        }
    }

    /// A job with dependents has ended: on success each dependent counts
    /// one dependency less and the last one unblocks it (`queued`, or
    /// `scheduled` until its `run_at`); on failure or cancellation every
    /// blocked job down the chain is cancelled, all in this transaction.
    func settleDependents(of job: Job) throws(StoreError) {
        if job.state == .succeeded {
            try unblockDependents(of: job.id)
        } else {
            try cancelDependents(of: job.id, state: job.state)
        }
    }

    private func takeDependents(of id: JobID) throws(StoreError) -> [Int64] {
        let dependents = try connection.rows("settle dependents", "SELECT job_id FROM job_dependencies WHERE depends_on = ?",
                                             [.int(id.rawValue)]) { $0.int(0) }
        try connection.run("settle dependents", "DELETE FROM job_dependencies WHERE depends_on = ?", [.int(id.rawValue)])
        return dependents
    }

    private func unblockDependents(of id: JobID) throws(StoreError) {
        for dependent in try takeDependents(of: id) {
            let row = try connection.firstRow("unblock", Self.countDown, [.int(now.rawValue), .int(dependent)]) { row in
                (state: JobState(rawValue: row.text(0)) ?? .blocked, queue: row.text(1), handler: row.text(2), key: row.optionalText(3))
            }
            guard let row, row.state != .blocked else { continue }
            counts.move(row.queue, from: .blocked, to: row.state)
            unblocked += 1
            if row.state == .queued, let key = row.key { try admitOrHold(dependent, handler: row.handler, key: key) }
        }
    }

    private func cancelDependents(of root: JobID, state rootState: JobState) throws(StoreError) {
        var frontier = [(root, rootState)]
        while let (id, state) = frontier.popLast() {
            for dependent in try takeDependents(of: id) {
                let errors = try connection.firstRow("cancel dependents", "SELECT errors FROM jobs WHERE id = ? AND state = 'blocked'",
                                                     [.int(dependent)]) { row throws(StoreError) in try JobRow.decodeErrors(row.text(0)) }
                guard let errors else { continue }  // cancelled already, by another of its dependencies
                let failure = JobFailure(message: Self.dependencyMessage(id, state), at: now)
                let job = try connection.firstRow("cancel dependents", Self.cancelBlocked, [
                    .int(now.rawValue), .text(JobRow.encodeErrors(errors.appending(failure: failure))), .int(dependent),
                ], JobRow.decode)
                guard let job else { continue }
                counts.move(job.queue, from: .blocked, to: .cancelled)
                metricEvents.note(.finished(.cancelled), queue: job.queue, handler: job.handler)
                settledJobs.append(job)
                if job.hasDependents { frontier.append((job.id, .cancelled)) }
            }
        }
    }

    /// One dependency less; the last one lets the job go.
    private static let countDown = """
        UPDATE jobs SET blocked_on = blocked_on - 1,
                        state = CASE WHEN blocked_on > 1 THEN state
                                     WHEN run_at > ?1 THEN '\(JobEvent.unblockedUntilRunAt.target)'
                                     ELSE '\(JobEvent.unblocked.target)' END
        WHERE id = ?2 AND \(SQLStates.guardFor(.unblocked))
        RETURNING state, queue, handler, concurrency_key
        """

    private static let cancelBlocked = """
        UPDATE jobs SET state = '\(JobEvent.dependencyFailed.target)', blocked_on = 0, finished_at = ?, errors = ?
        WHERE id = ? AND \(SQLStates.guardFor(.dependencyFailed))
        RETURNING \(JobRow.columns)
        """
}
