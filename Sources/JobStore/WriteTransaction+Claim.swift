import JobCore

extension WriteTransaction {
    /// The most waiting jobs one claim promotes before it looks for ready ones.
    static let promotionsPerClaim = 1000

    /// Marks up to `request.maxJobs` ready jobs `running` under this run's
    /// lease, in priority DESC, run_at, id order across the queues, never
    /// more than a queue's free slots, never from a paused queue; then up
    /// to `request.ahead` more, claimed ahead: `running` with no
    /// `started_at` (`recordStart` sets it when one starts).
    func claim(_ request: ClaimRequest) throws(StoreError) -> [Job] {
        guard request.maxJobs + request.ahead > 0 else { return [] }
        try promoteDue(limit: Self.promotionsPerClaim)
        let paused = Set(try connection.rows("claim", "SELECT name FROM queues WHERE paused = 1") { $0.text(0) })
        // Queues with ready jobs: as counted at the last commit, plus those this transaction changed.
        let queues = Set(try connection.rows("claim", "SELECT queue FROM job_counts WHERE state = 'queued' AND n > 0") { $0.text(0) })
            .union(counts.queuesChanged(in: .queued))

        // The best few of each queue (one index range each), merged here:
        // a single ORDER BY over several queues would sort every ready job.
        var candidates: [ReadyCandidate] = []
        // Handlers over their rate are passed over in the index walk, so
        // that they hold back no other job of their queue.
        // The handler is read only when some handler is rate-limited (a
        // string per candidate is most of a claim's reading otherwise).
        let limited = !request.handlerBudgets.isEmpty
        let exhausted = request.exhaustedHandlers
        let ready = limited ? Self.readyInQueue(excludingHandlers: exhausted.count) : Self.readyInQueue
        for queue in queues where !paused.contains(queue) {
            let limit = request.limit(for: queue)
            guard limit > 0 else { continue }
            candidates += try connection.rows("claim", ready, [.text(queue)] + exhausted.map { .text($0) } + [.int(Int64(limit))]) { row in
                ReadyCandidate(id: row.int(0), priority: row.int(1), runAt: row.int(2), queue: queue, handler: limited ? row.text(3) : nil)
            }
        }
        candidates.sort()
        var budgets = request.handlerBudgets

        // In order: a job starts now while its queue has a free slot, else
        // it is claimed ahead while the lookahead lasts.
        var claimed: [Job] = []
        var startNow = request.maxJobs
        var ahead = request.ahead
        var slotsLeft: [String: Int] = [:]
        for candidate in candidates where startNow > 0 || ahead > 0 {
            let slots = slotsLeft[candidate.queue] ?? request.slots(for: candidate.queue)
            let budget = candidate.handler.flatMap { budgets[$0] }
            let starts = startNow > 0 && slots > 0 && (budget ?? 1) > 0
            let startOnly = budget != nil || request.startOnlyQueues.contains(candidate.queue)
            guard starts || (ahead > 0 && !startOnly) else { continue }
            let job = try connection.firstRow("claim", Self.markRunning, [
                starts ? .int(now.rawValue) : .null, .text(leaseOwner), .int(now.rawValue), .int(candidate.id),
            ], JobRow.decode)
            guard let job else { continue }
            counts.move(job.queue, from: .queued, to: .running)
            if starts { noteStarted(job) }
            claimed.append(job)
            if starts {
                startNow -= 1
                slotsLeft[candidate.queue] = slots - 1
                if let handler = candidate.handler, let budget { budgets[handler] = budget - 1 }
            } else {
                ahead -= 1
            }
        }
        return claimed
    }

    /// A job claimed ahead has started: it is an attempt from now on (a
    /// crash before this commits puts it back without counting it).
    func recordStart(_ id: JobID, attempt: Int, at start: Timestamp) throws(StoreError) {
        let started = try connection.firstRow("record start", Self.markStarted, [
            .int(start.rawValue), .int(start.rawValue), .int(id.rawValue), .int(Int64(attempt)),
        ]) { row in (queue: row.text(0), handler: row.text(1), runAt: row.int(2)) }
        if let started {
            metricEvents.note(.started(waitMilliseconds: start.rawValue - started.runAt), queue: started.queue, handler: started.handler)
        }
    }

    /// An attempt starts now: how long after it was due is the queue's wait.
    func noteStarted(_ job: Job) {
        metricEvents.note(.started(waitMilliseconds: now.rawValue - job.runAt.rawValue), queue: job.queue, handler: job.handler)
    }

    /// Jobs claimed ahead that never started go back to `queued` as they
    /// were, their attempt not counted. Returns how many went back.
    @discardableResult
    func releaseUnstarted(_ jobs: [(id: JobID, attempt: Int)]) throws(StoreError) -> Int {
        var released = 0
        for job in jobs {
            let queue = try connection.firstRow("release unstarted job", Self.release, [.int(job.id.rawValue), .int(Int64(job.attempt))]) {
                $0.text(0)
            }
            if let queue {
                counts.move(queue, from: .running, to: .queued)
                released += 1
            }
        }
        return released
    }

    /// Moves `scheduled` and `retrying` jobs whose time has come to `queued`,
    /// earliest first, at most `limit`. Returns how many moved.
    @discardableResult
    func promoteDue(limit: Int) throws(StoreError) -> Int {
        let due = try connection.rows("promote due jobs", Self.dueJobs, [.int(now.rawValue), .int(Int64(limit))]) { row in
            (id: row.int(0), queue: row.text(1), state: JobState(rawValue: row.text(2)), handler: row.text(3), key: row.optionalText(4))
        }
        var promoted = 0
        for job in due {
            guard let state = job.state,
                  try connection.run("promote due jobs", Self.promote, [.int(job.id)]) == 1 else { continue }
            counts.move(job.queue, from: state, to: .queued)
            if let key = job.key { try admitOrHold(job.id, handler: job.handler, key: key) }
            promoted += 1
        }
        return promoted
    }

    private static let readyInQueue = """
        SELECT id, priority, run_at FROM jobs INDEXED BY jobs_ready
        WHERE state = 'queued' AND external = 0 AND key_held = 0 AND queue = ?
        ORDER BY priority DESC, run_at, id LIMIT ?
        """

    private static func readyInQueue(excludingHandlers count: Int) -> String {
        let excluded = count == 0 ? "" : " AND handler NOT IN (" + Array(repeating: "?", count: count).joined(separator: ", ") + ")"
        return """
            SELECT id, priority, run_at, handler FROM jobs INDEXED BY jobs_ready
            WHERE state = 'queued' AND external = 0 AND key_held = 0 AND queue = ?\(excluded)
            ORDER BY priority DESC, run_at, id LIMIT ?
            """
    }

    private static let markRunning = """
        UPDATE jobs SET state = '\(JobEvent.claimed.target)', attempts = attempts + 1, started_at = ?,
                        lease_owner = ?, lease_expires_at = ? + timeout_ms
        WHERE id = ? AND \(SQLStates.guardFor(.claimed)) AND key_held = 0
        RETURNING \(JobRow.columns)
        """

    private static let markStarted = """
        UPDATE jobs SET started_at = ?, lease_expires_at = ? + timeout_ms
        WHERE id = ? AND state = 'running' AND attempts = ? AND started_at IS NULL
        RETURNING queue, handler, run_at
        """

    /// Undoes a claim ahead: the state, attempts and lease it had before.
    private static let release = """
        UPDATE jobs SET state = 'queued', attempts = attempts - 1, lease_owner = NULL, lease_expires_at = NULL
        WHERE id = ? AND state = 'running' AND attempts = ? AND started_at IS NULL
        RETURNING queue
        """

    private static let dueJobs = """
        SELECT id, queue, state, handler, concurrency_key FROM jobs INDEXED BY jobs_waiting
        WHERE state IN \(SQLStates.list(JobState.waiting)) AND run_at <= ?
        ORDER BY run_at LIMIT ?
        """

    private static let promote = """
        UPDATE jobs SET state = '\(JobEvent.becameDue.target)' WHERE id = ? AND \(SQLStates.guardFor(.becameDue))
        """
}

/// A ready job found by a claim or a reserve, in the order both take them:
/// priority DESC, run_at, id (both engines).
package struct ReadyCandidate: Comparable {
    package var id: Int64
    package var priority: Int64
    package var runAt: Int64
    package var queue: String
    /// Set for a reserve (the handler whose lease it gets).
    package var handler: String? = nil

    package init(id: Int64, priority: Int64, runAt: Int64, queue: String, handler: String? = nil) {
        self.id = id
        self.priority = priority
        self.runAt = runAt
        self.queue = queue
        self.handler = handler
    }

    package static func < (a: ReadyCandidate, b: ReadyCandidate) -> Bool {
        if a.priority != b.priority { return a.priority > b.priority }
        if a.runAt != b.runAt { return a.runAt < b.runAt }
        return a.id < b.id
    }
}
