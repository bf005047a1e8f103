import JobCore
import JobStore

/// The job writes and reads of `JobStorage`.
extension PostgresStore {
    public func enqueue(_ job: NewJob, completion: @escaping @Sendable (Result<EnqueueOutcome, StoreError>) -> Void) {
        perform({ tx throws(StoreError) in try await tx.enqueue(job) }, completion: completion)
    }

    public func enqueueAndClaim(_ job: NewJob, _ request: ClaimRequest,
                                completion: @escaping @Sendable (Result<EnqueueAndClaim, StoreError>) -> Void) {
        let leaseHeld = self.leaseHeld
        perform({ tx throws(StoreError) in
            let outcome = try await tx.enqueue(job)
            return EnqueueAndClaim(outcome: outcome, claimed: try await tx.claim(request, leaseHeld: leaseHeld))
        }, completion: completion)
    }

    public func enqueueBatch(_ jobs: [NewJob], completion: @escaping @Sendable (Result<BatchEnqueueOutcome, StoreError>) -> Void) {
        perform({ tx throws(StoreError) in try await tx.enqueueBatch(jobs) }, completion: completion)
    }

    public func claim(_ request: ClaimRequest) async throws(StoreError) -> [Job] {
        let leaseHeld = self.leaseHeld
        return try await perform { tx throws(StoreError) in try await tx.claim(request, leaseHeld: leaseHeld) }
    }

    /// Never called: this engine claims no job ahead (every claimed job has started).
    public func recordStart(_ id: JobID, attempt: Int, at start: Timestamp) {}

    public func releaseUnstarted(_ jobs: [(id: JobID, attempt: Int)]) async throws(StoreError) -> Int { 0 }

    /// The end of an attempt this node ran. While the database is
    /// unreachable it is tried again every second (the handler's work is
    /// done; only the record is missing) until it is written, or until this
    /// node's lease has lapsed: the end would be fenced then, and the job is
    /// another node's to rescue.
    public func complete(_ id: JobID, attempt: Int, result: RawJSON?, resultTruncated: Bool, deferrable: Bool,
                         completion: @escaping @Sendable (Result<Job?, StoreError>) -> Void) {
        performEnd({ tx throws(StoreError) in
            try await tx.complete(id, attempt: attempt, result: result, resultTruncated: resultTruncated)
        }, completion: completion)
    }

    public func fail(_ id: JobID, attempt: Int, failure: JobFailure, disposition: FailureDisposition, deferrable: Bool,
                     completion: @escaping @Sendable (Result<Job?, StoreError>) -> Void) {
        performEnd({ tx throws(StoreError) in
            try await tx.fail(id, attempt: attempt, failure: failure, disposition: disposition)
        }, completion: completion)
    }

    private func performEnd(_ body: @escaping @Sendable (PostgresTransaction) async throws(StoreError) -> Job?,
                            completion: @escaping @Sendable (Result<Job?, StoreError>) -> Void) {
        perform(body) { [weak self] result in
            guard case .failure(.unavailable) = result, let self, self.leaseHeld else { return completion(result) }
            Task {
                try? await Task.sleep(for: .seconds(1))
                self.performEnd(body, completion: completion)
            }
        }
    }

    public func cancel(_ id: JobID) async throws(StoreError) -> CancelOutcome {
        try await perform { tx throws(StoreError) in try await tx.cancel(id) }
    }

    public func retry(_ id: JobID, isExternal: @escaping @Sendable (String) -> Bool) async throws(StoreError) -> Job {
        try await perform { tx throws(StoreError) in try await tx.retry(id, isExternal: isExternal) }
    }

    public func pause(queue: String) async throws(StoreError) -> Bool {
        try await perform { tx throws(StoreError) in try await tx.setPaused(queue, true) }
    }

    public func resume(queue: String) async throws(StoreError) -> Bool {
        try await perform { tx throws(StoreError) in try await tx.setPaused(queue, false) }
    }

    public func promoteDue(limit: Int) async throws(StoreError) -> Int {
        try await perform { tx throws(StoreError) in try await tx.promoteDue(limit: limit) }
    }

    public func prune(retentionMs: [JobState: Int64], batchSize: Int) async throws(StoreError) -> Int {
        try await perform { tx throws(StoreError) in try await tx.prune(retentionMs: retentionMs, batchSize: batchSize) }
    }

    /// At start-up: the jobs this node's earlier run left running (a crash,
    /// a kill) are interrupted attempts. `retryDelayMs` is kept for the
    /// rescue of other nodes' jobs later.
    public func recoverInterrupted(retryDelayMs: @escaping @Sendable (Job) -> Int64) async throws(StoreError) -> [Job] {
        setRescueDelay(retryDelayMs)
        let node = options.nodeName
        return try await perform { tx throws(StoreError) in
            let orphans = try await tx.session.jobs("recover", """
                SELECT \(PostgresJobRow.columns) FROM jobs WHERE state = 'running' AND lease_owner = $1 AND NOT external
                ORDER BY id FOR UPDATE
                """, [.text(node)])
            return try await tx.recover(orphans, retryDelayMs: retryDelayMs)
        }
    }

    public func releaseHeldKeys() async throws(StoreError) -> Int {
        try await perform { tx throws(StoreError) in try await tx.releaseHeldKeys() }
    }

    // MARK: - Reads

    public func get(_ id: JobID) async throws(StoreError) -> Job? {
        try await withSession("get") { session throws(StoreError) in
            try await session.job("get", "SELECT \(PostgresJobRow.columns) FROM jobs WHERE id = $1", [.int(id.rawValue)])
        }
    }

    public func list(_ filter: ListFilter) async throws(StoreError) -> JobPage {
        var conditions: [String] = []
        var values: [PGValue] = []
        func bind(_ value: PGValue) -> String {
            values.append(value)
            return "$\(values.count)"
        }
        if filter.newestFirst {
            if let before = filter.beforeID { conditions.append("id < " + bind(.int(before))) }
        } else {
            conditions.append("id > " + bind(.int(filter.afterID)))
        }
        if let queue = filter.queue { conditions.append("queue = " + bind(.text(queue))) }
        if let state = filter.state { conditions.append("state = " + bind(.text(state.rawValue))) }
        if let handler = filter.handler { conditions.append("handler = " + bind(.text(handler))) }
        if let tag = filter.tag { conditions.append("id IN (SELECT job_id FROM job_tags WHERE tag = " + bind(.text(tag)) + ")") }
        let order = filter.newestFirst ? "id DESC" : "id"
        let limit = max(filter.limit, 1)
        let sql = "SELECT \(PostgresJobRow.columns) FROM jobs"
            + (conditions.isEmpty ? "" : " WHERE " + conditions.joined(separator: " AND "))
            + " ORDER BY \(order) LIMIT " + bind(.int(Int64(limit + 1)))  // one more tells whether a next page exists
        let bound = values
        var jobs = try await withSession("list") { session throws(StoreError) in try await session.jobs("list", sql, bound) }
        var next: Int64? = nil
        if jobs.count > limit {
            jobs.removeLast()
            next = jobs.last?.id.rawValue
        }
        return JobPage(jobs: jobs, nextAfterID: next)
    }

    public func stats() async throws(StoreError) -> [String: QueueStats] {
        try await withSession("stats") { session throws(StoreError) in
            let counts = try await session.rows("stats", """
                SELECT queue, state, sum(n)::bigint FROM job_counts GROUP BY queue, state HAVING sum(n) <> 0
                """) { row in (try row[0].decode(String.self), try row[1].decode(String.self), try row[2].decode(Int64.self)) }
            let known = try await session.rows("stats", "SELECT name, paused FROM queues") { row in
                (try row[0].decode(String.self), try row[1].decode(Bool.self))
            }
            let paused = Set(known.filter(\.1).map(\.0))
            let empty = Dictionary(uniqueKeysWithValues: JobState.allCases.map { ($0, 0) })
            // Every queue that holds jobs or has been paused or resumed, as on SQLite.
            var queues: [String: QueueStats] = [:]
            for (queue, isPaused) in known { queues[queue] = QueueStats(counts: empty, paused: isPaused) }
            for (queue, stateText, n) in counts {
                guard let state = JobState(rawValue: stateText) else { continue }
                queues[queue, default: QueueStats(counts: empty, paused: paused.contains(queue))].counts[state] = Int(n)
            }
            return queues
        }
    }

    public func isPaused(queue: String) async throws(StoreError) -> Bool {
        try await withSession("stats") { session throws(StoreError) in
            try await session.firstRow("stats", "SELECT paused FROM queues WHERE name = $1", [.text(queue)]) { try $0[0].decode(Bool.self) } ?? false
        }
    }

    /// What the latest claim read, if no job of this node started to wait
    /// since: the engine asks after every claim, and a round trip per
    /// claim is what this saves. Another node's waiting jobs are that
    /// node's timer's (and any node's poll's, a second later).
    public func nextWakeTime() async throws(StoreError) -> Timestamp? {
        // A time already past is read again: the claim that read it did not take that job.
        let localNow = systemClock()
        if let known = lease.withLock({ $0.nextRunAt }), known.map({ $0 > localNow }) ?? true { return known }
        return try await withSession("next run_at") { session throws(StoreError) in
            try await session.firstRow("next run_at", "SELECT min(run_at) FROM jobs WHERE state IN ('scheduled', 'retrying')") {
                try $0[0].decode(Int64?.self).map(Timestamp.init(millisecondsSinceEpoch:))
            } ?? nil
        }
    }

    /// Always true: a claim is one statement per queue here, and what it finds
    /// depends on the other nodes too, so a read first would save nothing.
    public func mayClaim(_ request: ClaimRequest, now: Timestamp) async throws(StoreError) -> Bool { leaseHeld }

    /// As `mayClaim`: a reserve pass is what finds out, here.
    public func mayReserve(handlers: Set<String>, now: Timestamp, freeSlots: (String) -> Int) async throws(StoreError) -> Bool { leaseHeld }

    public func queuesWithOwnReadyJobs(among queues: Set<String>) async throws(StoreError) -> Set<String> { queues }

    public func oldestDue(now: Timestamp) async throws(StoreError) -> [String: Timestamp] {
        try await withSession("oldest due") { session throws(StoreError) in
            let rows = try await session.rows("oldest due", """
                SELECT queue, min(run_at) FROM jobs WHERE state IN ('queued', 'scheduled', 'retrying') AND run_at <= $1 GROUP BY queue
                """, [.int(now.rawValue)]) { row in (try row[0].decode(String.self), try row[1].decode(Int64.self)) }
            return Dictionary(rows.map { ($0.0, Timestamp(millisecondsSinceEpoch: $0.1)) }) { a, _ in a }
        }
    }

    /// After a commit: the claim's `nextRunAt` is known, unless a job of
    /// this node started to wait (then it is read again).
    func noteNextRunAt(_ next: Timestamp??, addedWaiting: Bool) {
        lease.withLock { state in
            if addedWaiting {
                state.nextRunAt = nil
            } else if let next {
                state.nextRunAt = .some(next)
            }
        }
    }
}
