import JobCore

extension WriteTransaction {
    /// The most waiting jobs one claim promotes before it looks for ready ones.
    static let promotionsPerClaim = 1000

    /// Marks up to `request.maxJobs` ready jobs `running` under this run's
    /// lease, in priority DESC, run_at, id order across the queues, never
    /// more than a queue's free slots, never from a paused queue.
    func claim(_ request: ClaimRequest) throws(StoreError) -> [Job] {
        guard request.maxJobs > 0 else { return [] }
        try promoteDue(limit: Self.promotionsPerClaim)
        let paused = Set(try connection.rows("claim", "SELECT name FROM queues WHERE paused = 1") { $0.text(0) })
        // Queues with ready jobs: as counted at the last commit, plus those this transaction changed.
        let queues = Set(try connection.rows("claim", "SELECT queue FROM job_counts WHERE state = 'queued' AND n > 0") { $0.text(0) })
            .union(counts.queuesChanged(in: .queued))

        // The best few of each queue (one index range each), merged here:
        // a single ORDER BY over several queues would sort every ready job.
        var candidates: [Candidate] = []
        for queue in queues where !paused.contains(queue) {
            let slots = request.slots(for: queue)
            guard slots > 0 else { continue }
            candidates += try connection.rows("claim", Self.readyInQueue, [.text(queue), .int(Int64(slots))]) { row in
                Candidate(id: row.int(0), priority: row.int(1), runAt: row.int(2))
            }
        }
        candidates.sort()

        var claimed: [Job] = []
        for candidate in candidates.prefix(request.maxJobs) {
            let job = try connection.firstRow("claim", Self.markRunning, [
                .int(now.rawValue), .text(leaseOwner), .int(now.rawValue), .int(candidate.id),
            ], JobRow.decode)
            if let job {
                counts.move(job.queue, from: .queued, to: .running)
                claimed.append(job)
            }
        }
        return claimed
    }

    /// Moves `scheduled` and `retrying` jobs whose time has come to `queued`,
    /// earliest first, at most `limit`. Returns how many moved.
    @discardableResult
    func promoteDue(limit: Int) throws(StoreError) -> Int {
        let due = try connection.rows("promote due jobs", Self.dueJobs, [.int(now.rawValue), .int(Int64(limit))]) { row in
            (id: row.int(0), queue: row.text(1), state: JobState(rawValue: row.text(2)))
        }
        var promoted = 0
        for job in due {
            guard let state = job.state,
                  try connection.run("promote due jobs", Self.promote, [.int(job.id)]) == 1 else { continue }
            counts.move(job.queue, from: state, to: .queued)
            promoted += 1
        }
        return promoted
    }

    private struct Candidate: Comparable {
        var id: Int64
        var priority: Int64
        var runAt: Int64

        static func < (a: Candidate, b: Candidate) -> Bool {
            if a.priority != b.priority { return a.priority > b.priority }
            if a.runAt != b.runAt { return a.runAt < b.runAt }
            return a.id < b.id
        }
    }

    private static let readyInQueue = """
        SELECT id, priority, run_at FROM jobs
        WHERE state = 'queued' AND queue = ?
        ORDER BY priority DESC, run_at, id LIMIT ?
        """

    private static let markRunning = """
        UPDATE jobs SET state = '\(JobEvent.claimed.target)', attempts = attempts + 1, started_at = ?,
                        lease_owner = ?, lease_expires_at = ? + timeout_ms
        WHERE id = ? AND \(SQLStates.guardFor(.claimed))
        RETURNING \(JobRow.columns)
        """

    private static let dueJobs = """
        SELECT id, queue, state FROM jobs INDEXED BY jobs_waiting
        WHERE state IN \(SQLStates.list(JobState.waiting)) AND run_at <= ?
        ORDER BY run_at LIMIT ?
        """

    private static let promote = """
        UPDATE jobs SET state = '\(JobEvent.becameDue.target)' WHERE id = ? AND \(SQLStates.guardFor(.becameDue))
        """
}
