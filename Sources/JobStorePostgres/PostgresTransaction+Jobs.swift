import JobCore
import JobStore

/// The job writes of one transaction, as on SQLite (`WriteTransaction`),
/// with PostgreSQL's claim (`FOR UPDATE SKIP LOCKED`) and every end fenced
/// by node, attempt, state and the node's lease.
extension PostgresTransaction {
    static let active = "('blocked', 'scheduled', 'queued', 'running', 'retrying')"
    static let returning = "RETURNING " + PostgresJobRow.qualifiedColumns

    /// Inserts `job`, or answers with the unfinished job holding its
    /// `unique_key`. A job `after` others is `blocked` while one of them has
    /// not succeeded, and `cancelled` at once when one already failed or was
    /// cancelled. A keyed job whose key is full is `queued` but held.
    func enqueue(_ job: NewJob, batchIndex: Int? = nil) async throws(StoreError) -> EnqueueOutcome {
        let now = try await self.now()
        for _ in 0..<3 {
            if let key = job.uniqueKey, let holder = try await activeJob(uniqueKey: key) {
                return EnqueueOutcome(id: holder.id, state: holder.state, duplicate: true)
            }
            var state = job.initialState(createdAt: now)
            var pending: [JobID] = []
            var errors = "[]"
            if !job.after.isEmpty {
                let check = try await checkDependencies(job.after, batchIndex: batchIndex)
                if let failed = check.failed {
                    state = .cancelled
                    errors = JobRow.encodeErrors([JobFailure(message: Self.dependencyMessage(failed.id, failed.state), at: now)])
                } else if !check.pending.isEmpty {
                    state = .blocked
                    pending = check.pending
                }
            }
            if !state.isTerminal { try await reserveActiveSlot() }
            var held = false
            if state == .queued, let key = job.concurrencyKey { held = try await !keyHasRoom(handler: job.handler, key: key) }
            let inserted = try await session.firstRow("enqueue", """
                INSERT INTO jobs (queue, handler, payload, state, priority, max_attempts, timeout_ms,
                                  unique_key, tags, created_at, run_at, schedule, external,
                                  after_ids, blocked_on, concurrency_key, key_held, errors, finished_at)
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)
                ON CONFLICT (unique_key) WHERE unique_key IS NOT NULL AND state IN \(Self.active) DO NOTHING
                RETURNING id
                """, [
                    .text(job.queue), .text(job.handler), .text(job.payload.text), .text(state.rawValue),
                    .int(Int64(job.priority)), .int(Int64(job.maxAttempts)), .int(job.timeoutMs),
                    .optionalText(job.uniqueKey), .text(JobRow.encodeTags(job.tags)),
                    .int(now.rawValue), .int(job.runAt(createdAt: now).rawValue), .optionalText(job.schedule), .bool(job.external),
                    .optionalText(job.after.isEmpty ? nil : JobRow.encodeIDs(job.after)), .int(Int64(pending.count)),
                    .optionalText(job.concurrencyKey), .bool(held), .text(errors), .optionalInt(state.isTerminal ? now.rawValue : nil),
                ]) { try $0[0].decode(Int64.self) }
            // Nothing inserted: another transaction holds the key now; read it again.
            guard let id = inserted else { continue }
            add(job.queue, state, +1)
            metricEvents.note(.enqueued, queue: job.queue, handler: job.handler)
            if state.isTerminal { metricEvents.note(.finished(state), queue: job.queue, handler: job.handler) }
            for tag in Set(job.tags) {
                try await session.run("enqueue", "INSERT INTO job_tags (job_id, tag) VALUES ($1, $2) RETURNING 1", [.int(id), .text(tag)])
            }
            if !pending.isEmpty { try await recordDependencies(of: id, on: pending) }
            if state.isTerminal { finished.append(JobID(id)) }
            return EnqueueOutcome(id: JobID(id), state: state, duplicate: false)
        }
        throw .busy(operation: "enqueue")
    }

    /// Every job or none (a failed request's transaction is rolled back).
    /// `after_index` names earlier entries of the same batch.
    func enqueueBatch(_ jobs: [NewJob]) async throws(StoreError) -> BatchEnqueueOutcome {
        var outcome = BatchEnqueueOutcome(ids: [], duplicates: [])
        for (index, var job) in jobs.enumerated() {
            for earlier in job.afterIndex {
                guard earlier >= 0, earlier < index else {
                    throw .internalError(operation: "enqueue_batch", message: "after_index \(earlier) of entry \(index) is not an earlier entry")
                }
                job.after.append(outcome.ids[earlier])
            }
            let one = try await enqueue(job, batchIndex: index)
            outcome.ids.append(one.id)
            outcome.duplicates.append(one.duplicate)
        }
        return outcome
    }

    func activeJob(uniqueKey: String) async throws(StoreError) -> (id: JobID, state: JobState)? {
        try await session.firstRow("unique key", "SELECT id, state FROM jobs WHERE unique_key = $1 AND state IN \(Self.active)",
                                   [.text(uniqueKey)]) { row in
            (JobID(try row[0].decode(Int64.self)), JobState(rawValue: try row[1].decode(String.self)) ?? .queued)
        }
    }

    /// Up to the request's slots of each unpaused queue with ready jobs, in
    /// priority DESC, run_at, id order, each queue in one statement that
    /// skips the rows other nodes are claiming. Nothing is claimed ahead:
    /// a job claimed here starts now. Nothing at all while the node's lease
    /// is not held (it could not fence its ends).
    func claim(_ request: ClaimRequest, leaseHeld: Bool) async throws(StoreError) -> [Job] {
        guard request.maxJobs > 0, leaseHeld else { return [] }
        let queues = try await promoteAndListQueues()
        // Rate limits: what the whole cluster's starts leave, and this node's own.
        var windows = try await lockRateWindows()
        let request = windows?.narrow(request) ?? request
        let exhausted = request.exhaustedHandlers
        // A rate-limited handler with a budget caps the whole claim at it.
        var budget = request.handlerBudgets.values.filter { $0 > 0 }.min()
        let now = try await self.now()
        var left = request.maxJobs
        var claimed: [Job] = []
        for queue in queues where left > 0 && budget ?? 1 > 0 {
            let limit = min(request.slots(for: queue), left, budget ?? Int.max)
            guard limit > 0 else { continue }
            let jobs = try await session.jobs("claim", """
                WITH picked AS MATERIALIZED (
                    SELECT id FROM jobs
                    WHERE state = 'queued' AND NOT external AND NOT key_held AND queue = $1
                      AND NOT (handler = ANY (string_to_array($5, chr(31))))
                    ORDER BY priority DESC, run_at, id LIMIT $2
                    FOR UPDATE SKIP LOCKED)
                UPDATE jobs SET state = 'running', attempts = attempts + 1, started_at = $3, lease_owner = $4
                FROM picked WHERE jobs.id = picked.id
                \(Self.returning)
                """, [.text(queue), .int(Int64(limit)), .int(now.rawValue), .text(node), .text(exhausted.joined(separator: "\u{1f}"))])
            for job in jobs {
                move(job.queue, from: .queued, to: .running)
                note(.started(waitMilliseconds: now.rawValue - job.runAt.rawValue), job)
                windows?.record(job)
            }
            claimed += jobs
            left -= jobs.count
            budget = budget.map { $0 - jobs.count }
        }
        if let windows, !claimed.isEmpty { try await saveRateWindows(windows) }
        return claimed.sorted { a, b in
            if a.priority != b.priority { return a.priority > b.priority }
            if a.runAt != b.runAt { return a.runAt < b.runAt }
            return a.id.rawValue < b.id.rawValue
        }
    }

    /// Due `scheduled`/`retrying` jobs -> `queued`, earliest first.
    @discardableResult
    func promoteDue(limit: Int) async throws(StoreError) -> Int {
        let now = try await self.now()
        let moved = try await session.rows("promote due jobs", """
            WITH due AS MATERIALIZED (
                SELECT id, state AS was FROM jobs WHERE state IN ('scheduled', 'retrying') AND run_at <= $1
                ORDER BY run_at LIMIT $2 FOR UPDATE SKIP LOCKED)
            UPDATE jobs SET state = 'queued' FROM due WHERE jobs.id = due.id
            RETURNING jobs.queue, due.was, jobs.id, jobs.handler, jobs.concurrency_key
            """, [.int(now.rawValue), .int(Int64(limit))]) { row in
            (queue: try row[0].decode(String.self), was: try row[1].decode(String.self), id: try row[2].decode(Int64.self),
             handler: try row[3].decode(String.self), key: try row[4].decode(String?.self))
        }
        for job in moved {
            move(job.queue, from: JobState(rawValue: job.was) ?? .scheduled, to: .queued)
            if let key = job.key { try await admitOrHold(job.id, handler: job.handler, key: key) }
        }
        return moved.count
    }

    /// The guard of every end of the node's own attempts: this node runs
    /// `attempt` of the job, and its lease holds.
    static let fence = """
        state = 'running' AND attempts = $2 AND lease_owner = $3
        AND EXISTS (SELECT 1 FROM nodes WHERE name = $3 AND expires_at > jq_now())
        """

    func complete(_ id: JobID, attempt: Int, result: RawJSON?, resultTruncated: Bool) async throws(StoreError) -> Job? {
        let now = try await self.now()
        let job = try await session.job("complete", """
            UPDATE jobs SET state = 'succeeded', finished_at = $4, result = $5, result_truncated = $6,
                            lease_owner = NULL, lease_expires_at = NULL, lease_token = NULL, lease_worker = NULL
            WHERE id = $1 AND \(Self.fence)
            \(Self.returning)
            """, [.int(id.rawValue), .int(Int64(attempt)), .text(node), .int(now.rawValue), .optionalText(result?.text), .bool(resultTruncated)])
        if let job { try await ended(job, from: .running) }
        return job
    }

    /// `owner`: the end of another's attempt (a rescue, a recovery, an
    /// external worker's token already checked), guarded by that owner's
    /// name and the attempt; nil: this node's own, fenced by its lease.
    func fail(_ id: JobID, attempt: Int, failure: JobFailure, disposition: FailureDisposition,
              owner: String? = nil) async throws(StoreError) -> Job? {
        let fence = owner == nil ? Self.fence : "state = 'running' AND attempts = $2 AND lease_owner = $3"
        let owner = owner ?? node
        let current = try await session.firstRow("fail", "SELECT max_attempts, errors FROM jobs WHERE id = $1 AND \(fence) FOR UPDATE",
                                                 [.int(id.rawValue), .int(Int64(attempt)), .text(owner)]) { row in
            (maxAttempts: try row[0].decode(Int.self), errors: try row[1].decode(String.self))
        }
        guard let current else { return nil }
        let now = try await self.now()
        var state = JobState.failed
        var runAt: Timestamp? = nil
        if case .retry(let delay) = disposition, attempt < current.maxAttempts {
            state = delay > 0 ? .retrying : .queued
            runAt = now.adding(milliseconds: max(delay, 0))
        }
        let errors = try JobRow.decodeErrors(current.errors).appending(failure: failure)
        let job = try await session.job("fail", """
            UPDATE jobs SET state = $4, errors = $5, run_at = coalesce($6, run_at), finished_at = $7,
                            lease_owner = NULL, lease_expires_at = NULL, lease_token = NULL, lease_worker = NULL
            WHERE id = $1 AND state = 'running' AND attempts = $2 AND lease_owner = $3
            \(Self.returning)
            """, [.int(id.rawValue), .int(Int64(attempt)), .text(owner), .text(state.rawValue), .text(JobRow.encodeErrors(errors)),
                  .optionalInt(runAt?.rawValue), .optionalInt(state.isTerminal ? now.rawValue : nil)])
        if let job {
            note(.attemptFailed(failure.reason), job)
            try await ended(job, from: .running, attemptRan: failure.reason != .interrupted)
        }
        return job
    }

    func cancel(_ id: JobID) async throws(StoreError) -> CancelOutcome {
        guard let before = try await session.job("cancel", "SELECT \(PostgresJobRow.columns) FROM jobs WHERE id = $1 FOR UPDATE",
                                                 [.int(id.rawValue)]) else { throw .notFound(id) }
        guard before.state.after(.cancelled) != nil else { throw .invalidState(id, state: before.state, operation: "cancel") }
        let now = try await self.now()
        guard let job = try await session.job("cancel", """
            UPDATE jobs SET state = 'cancelled', finished_at = $2, lease_owner = NULL, lease_expires_at = NULL,
                            lease_token = NULL, lease_worker = NULL, blocked_on = 0, key_held = false
            WHERE id = $1 \(Self.returning)
            """, [.int(id.rawValue), .int(now.rawValue)]) else { throw .notFound(id) }
        try await ended(job, from: before.state)
        return CancelOutcome(job: job, previousState: before.state)
    }

    /// `isExternal(handler)`: whether an external worker serves it now (the config decides, as at enqueue).
    func retry(_ id: JobID, isExternal: (String) -> Bool) async throws(StoreError) -> Job {
        guard let before = try await session.job("retry", "SELECT \(PostgresJobRow.columns) FROM jobs WHERE id = $1 FOR UPDATE",
                                                 [.int(id.rawValue)]) else { throw .notFound(id) }
        guard before.state.after(.retried) != nil else { throw .invalidState(id, state: before.state, operation: "retry") }
        if let key = before.uniqueKey, let holder = try await activeJob(uniqueKey: key) {
            throw .uniqueKeyInUse(id, uniqueKey: key, heldBy: holder.id)
        }
        try await reserveActiveSlot()
        let now = try await self.now()
        // A job enqueued after others waits again for those not succeeded.
        let waitFor = before.after.isEmpty ? [] : try await checkDependencies(before.after, failedArePending: true).pending
        guard let job = try await session.job("retry", """
            UPDATE jobs SET state = $4, blocked_on = $5, attempts = 0, run_at = $2, started_at = NULL, finished_at = NULL,
                            result = NULL, result_truncated = false, external = $3
            WHERE id = $1 \(Self.returning)
            """, [.int(id.rawValue), .int(now.rawValue), .bool(isExternal(before.handler)),
                  .text(waitFor.isEmpty ? JobState.queued.rawValue : JobState.blocked.rawValue), .int(Int64(waitFor.count))]) else {
            throw .notFound(id)
        }
        move(job.queue, from: before.state, to: job.state)
        if !waitFor.isEmpty { try await recordDependencies(of: id.rawValue, on: waitFor) }
        if job.state == .queued, let key = job.concurrencyKey { try await admitOrHold(id.rawValue, handler: job.handler, key: key) }
        return job
    }

    func setPaused(_ queue: String, _ paused: Bool) async throws(StoreError) -> Bool {
        let now = try await self.now()
        try await session.run(paused ? "pause" : "resume", """
            INSERT INTO queues (name, paused, updated_at) VALUES ($1, $2, $3)
            ON CONFLICT (name) DO UPDATE SET paused = excluded.paused, updated_at = excluded.updated_at
            RETURNING 1
            """, [.text(queue), .bool(paused), .int(now.rawValue)])
        if !paused { readyQueues.insert(queue) }
        return paused
    }

    /// At most `batchSize` jobs of each terminal state past its retention.
    func prune(retentionMs: [JobState: Int64], batchSize: Int) async throws(StoreError) -> Int {
        let now = try await self.now()
        var deleted = 0
        for (state, keep) in retentionMs.sorted(by: { $0.key.rawValue < $1.key.rawValue }) where state.isTerminal {
            let queues = try await session.rows("prune", """
                DELETE FROM jobs WHERE id IN (
                    SELECT id FROM jobs WHERE state = $1 AND finished_at IS NOT NULL AND finished_at < $2
                    ORDER BY finished_at LIMIT $3 FOR UPDATE SKIP LOCKED)
                RETURNING queue
                """, [.text(state.rawValue), .int(now.adding(milliseconds: -keep).rawValue), .int(Int64(batchSize))]) {
                try $0[0].decode(String.self)
            }
            for queue in queues { add(queue, state, -1) }
            deleted += queues.count
        }
        return deleted
    }

    /// Running jobs of `owners` (this node's earlier run, or nodes whose
    /// lease ran out) become interrupted attempts, retried with backoff.
    func recover(_ orphans: [Job], retryDelayMs: (Job) -> Int64) async throws(StoreError) -> [Job] {
        var recovered: [Job] = []
        let now = try await self.now()
        for job in orphans {
            let failure = JobFailure(message: job.lease == nil ? JobFailure.interruptedMessage : JobFailure.leaseExpiredMessage, at: now)
            if let back = try await fail(job.id, attempt: job.attempts, failure: failure,
                                         disposition: .retry(afterMs: retryDelayMs(job)), owner: job.leaseOwner) {
                recovered.append(back)
            }
        }
        return recovered
    }

    /// A job changed state from `old` in this transaction: its counts and
    /// metrics, its waiters (after the commit), its key and its dependents.
    /// `attemptRan`: false for an attempt cut short by its node's end (its
    /// "duration" would be the downtime, not the job's).
    func ended(_ job: Job, from old: JobState, attemptRan: Bool = true) async throws(StoreError) {
        move(job.queue, from: old, to: job.state)
        if old == .running, attemptRan, let started = job.startedAt {
            note(.attemptEnded(milliseconds: try await now().rawValue - started.rawValue), job)
        }
        if job.state.isTerminal && !old.isTerminal { note(.finished(job.state), job) }
        if job.state.isTerminal { finished.append(job.id) }
        try await keysAndDependentsFollow(job, from: old)
    }
}
