import JobCore

/// One worker's `reserve`, as the store serves it.
public struct Reservation: Sendable {
    public var handlers: [String]
    public var maxJobs: Int
    /// nil: each job gets its handler's lease (`leaseMs(handler)`).
    public var leaseMs: Int64?
    public var worker: String?

    public init(handlers: [String], maxJobs: Int, leaseMs: Int64?, worker: String?) {
        self.handlers = handlers
        self.maxJobs = maxJobs
        self.leaseMs = leaseMs
        self.worker = worker
    }
}

/// Why a worker's call on a lease was refused: the token is not the
/// attempt's current one, or the lease has run out.
public struct LeaseLost: Error, Hashable, Sendable {
    public var id: JobID
    /// The job's state now.
    public var state: JobState

    public init(id: JobID, state: JobState) {
        self.id = id
        self.state = state
    }
}

/// The answer to a heartbeat.
public struct HeartbeatOutcome: Hashable, Sendable {
    public var expiresAt: Timestamp

    public init(expiresAt: Timestamp) {
        self.expiresAt = expiresAt
    }
}

extension WriteTransaction {
    /// Serves `reservations` in order, each from the ready external jobs of
    /// its handlers (priority DESC, run_at, id), within `freeSlots(queue)`
    /// jobs per queue for all of them together, never from a paused queue.
    /// Each reserved job is `running` with its attempt counted and a new token.
    func reserve(_ reservations: [Reservation], freeSlots: (String) -> Int, startsLeft: (String) -> Int? = { _ in nil },
                 leaseMs: (String) -> Int64, token: () -> String) throws(StoreError) -> [[Job]] {
        try promoteDue(limit: Self.promotionsPerClaim)
        let paused = Set(try connection.rows("reserve", "SELECT name FROM queues WHERE paused = 1") { $0.text(0) })
        let queues = Set(try connection.rows("reserve", "SELECT queue FROM job_counts WHERE state = 'queued' AND n > 0") { $0.text(0) })
            .union(counts.queuesChanged(in: .queued)).subtracting(paused)
        var slotsLeft: [String: Int] = [:]
        var handlerStartsLeft: [String: Int?] = [:]
        var answers: [[Job]] = []
        for reservation in reservations {
            var candidates: [ReadyCandidate] = []
            for handler in Set(reservation.handlers) {
                for queue in queues {
                    let slots = slotsLeft[queue] ?? freeSlots(queue)
                    guard slots > 0 else { continue }
                    candidates += try connection.rows("reserve", Self.readyExternal, [
                        .text(handler), .text(queue), .int(Int64(min(slots, reservation.maxJobs))),
                    ]) { row in ReadyCandidate(id: row.int(0), priority: row.int(1), runAt: row.int(2), queue: queue, handler: handler) }
                }
            }
            candidates.sort()
            var reserved: [Job] = []
            for candidate in candidates where reserved.count < reservation.maxJobs {
                let slots = slotsLeft[candidate.queue] ?? freeSlots(candidate.queue)
                guard slots > 0 else { continue }
                let handler = candidate.handler ?? ""
                let startable = handlerStartsLeft[handler] ?? startsLeft(handler)
                if let startable, startable <= 0 { continue }
                let lease = reservation.leaseMs ?? leaseMs(handler)
                let job = try connection.firstRow("reserve", Self.markReserved, [
                    .int(now.rawValue), .text(leaseOwner), .text(token()), .optionalText(reservation.worker), .int(lease),
                    .int(candidate.id),
                ], JobRow.decode)
                guard let job else { continue }
                counts.move(job.queue, from: .queued, to: .running)
                noteStarted(job)
                slotsLeft[candidate.queue] = slots - 1
                handlerStartsLeft[handler] = startable.map { $0 - 1 }
                reserved.append(job)
            }
            answers.append(reserved)
        }
        return answers
    }

    /// Extends the lease of attempt `token` of job `id` to now + `leaseMs`
    /// (default: the lease it was reserved with), never past the attempt's
    /// timeout; stores `progress` when given.
    func heartbeat(_ id: JobID, token: String, leaseMs: Int64?, progress: RawJSON?) throws(StoreError) -> Result<HeartbeatOutcome, LeaseLost> {
        let expires = try connection.firstRow("heartbeat", Self.extendLease, [
            .int(now.rawValue), .optionalInt(leaseMs), .optionalText(progress?.text), .int(id.rawValue), .text(token),
        ]) { Timestamp(millisecondsSinceEpoch: $0.int(0)) }
        guard let expires else { return .failure(try leaseLost(id)) }
        return .success(HeartbeatOutcome(expiresAt: expires))
    }

    /// `running` -> `succeeded` for the holder of the current token.
    func complete(_ id: JobID, token: String, result: RawJSON?, resultTruncated: Bool) throws(StoreError) -> Result<Job, LeaseLost> {
        guard let attempt = try currentAttempt(id, token: token) else { return .failure(try leaseLost(id)) }
        guard let job = try complete(id, attempt: attempt, result: result, resultTruncated: resultTruncated) else {
            return .failure(try leaseLost(id))
        }
        return .success(job)
    }

    /// A failed attempt reported by the holder of the current token.
    func fail(_ id: JobID, token: String, failure: JobFailure, disposition: FailureDisposition) throws(StoreError) -> Result<Job, LeaseLost> {
        guard let attempt = try currentAttempt(id, token: token) else { return .failure(try leaseLost(id)) }
        guard let job = try fail(id, attempt: attempt, failure: failure, disposition: disposition) else {
            return .failure(try leaseLost(id))
        }
        return .success(job)
    }

    /// The attempt that `token` holds, while its lease runs.
    private func currentAttempt(_ id: JobID, token: String) throws(StoreError) -> Int? {
        try connection.firstRow("check lease", Self.leasedAttempt, [.int(id.rawValue), .text(token), .int(now.rawValue)]) { Int($0.int(0)) }
    }

    /// The refusal of a call whose token does not hold the job (1001 when there is no job).
    private func leaseLost(_ id: JobID) throws(StoreError) -> LeaseLost {
        LeaseLost(id: id, state: try job(id, operation: "check lease").state)
    }

    /// Every lease held now (read at start-up: leases survive a restart).
    func heldLeases() throws(StoreError) -> [Job] {
        try connection.rows("read leases", "SELECT \(JobRow.columns) FROM jobs WHERE state = 'running' AND lease_token IS NOT NULL",
                            [], JobRow.decode)
    }

    /// Marks the waiting and ready jobs of `external` handlers external, and
    /// those of every other handler not: the config decides who serves a job
    /// that has not started. Returns how many changed.
    @discardableResult
    func setExternalHandlers(_ external: [String]) throws(StoreError) -> Int {
        var names = JSONWriter()
        names.array(external) { w, name in w.string(name) }
        return try connection.run("mark external jobs", """
            UPDATE jobs SET external = (handler IN (SELECT value FROM json_each(?1)))
            WHERE state IN \(SQLStates.list(JobState.waiting + [.queued, .blocked]))
              AND external <> (handler IN (SELECT value FROM json_each(?1)))
            """, [.text(names.text)])
    }

    private static let readyExternal = """
        SELECT id, priority, run_at FROM jobs INDEXED BY jobs_ready_external
        WHERE state = 'queued' AND external = 1 AND key_held = 0 AND handler = ? AND queue = ?
        ORDER BY priority DESC, run_at, id LIMIT ?
        """

    /// The lease runs for `lease_ms`, but never past the attempt's timeout.
    private static let markReserved = """
        UPDATE jobs SET state = '\(JobEvent.claimed.target)', attempts = attempts + 1, started_at = ?1,
                        lease_owner = ?2, lease_token = ?3, lease_worker = ?4, lease_ms = ?5,
                        lease_expires_at = min(?1 + ?5, ?1 + timeout_ms)
        WHERE id = ?6 AND state = 'queued' AND external = 1 AND key_held = 0
        RETURNING \(JobRow.columns)
        """

    private static let extendLease = """
        UPDATE jobs SET lease_expires_at = min(?1 + coalesce(?2, lease_ms), started_at + timeout_ms),
                        progress = coalesce(?3, progress)
        WHERE id = ?4 AND state = 'running' AND lease_token = ?5 AND lease_expires_at > ?1
        RETURNING lease_expires_at
        """

    private static let leasedAttempt = """
        SELECT attempts FROM jobs WHERE id = ?1 AND state = 'running' AND lease_token = ?2 AND lease_expires_at > ?3
        """
}
