import JobCore
import JobStore

/// External workers (WORKERS.md) on PostgreSQL, as on SQLite
/// (`WriteTransaction+Lease`): a reserved job is `running` under the
/// reserving node's name with a token, and the token alone fences the
/// worker's calls, so a worker may heartbeat and end its job through any
/// node. Times are the database's clock.
extension PostgresTransaction {
    /// See `WriteTransaction.reserve`. Candidates are locked with `SKIP
    /// LOCKED` (another node's pass takes others); nothing while the
    /// node's lease is not held.
    func reserve(_ reservations: [Reservation], freeSlots: (String) -> Int, startsLeft: (String) -> Int?,
                 leaseMs: (String) -> Int64, token: () -> String, leaseHeld: Bool) async throws(StoreError) -> [[Job]] {
        guard leaseHeld else { return reservations.map { _ in [] } }
        let queues = try await promoteAndListQueues()
        // Rate limits: no more than the whole cluster's starts leave, nor this node's own.
        // (Read before this pass records any start: the pass counts its own starts down itself.)
        var windows = try await lockRateWindows()
        let before = windows
        func clusterSlots(_ queue: String) -> Int {
            min(freeSlots(queue), before?.budget(SharedRateLimit.key(queue: queue)) ?? Int.max)
        }
        func clusterStarts(_ handler: String) -> Int? {
            let own = startsLeft(handler), cluster = before?.budget(SharedRateLimit.key(handler: handler))
            return own.map { min($0, cluster ?? $0) } ?? cluster
        }
        let now = try await self.now()
        var slotsLeft: [String: Int] = [:]
        var handlerStartsLeft: [String: Int?] = [:]
        var answers: [[Job]] = []
        for reservation in reservations {
            var candidates: [ReadyCandidate] = []
            for handler in Set(reservation.handlers).sorted() {
                for queue in queues {
                    let slots = slotsLeft[queue] ?? clusterSlots(queue)
                    guard slots > 0 else { continue }
                    candidates += try await session.rows("reserve", """
                        SELECT id, priority, run_at FROM jobs
                        WHERE state = 'queued' AND external AND NOT key_held AND handler = $1 AND queue = $2
                        ORDER BY priority DESC, run_at, id LIMIT $3
                        FOR UPDATE SKIP LOCKED
                        """, [.text(handler), .text(queue), .int(Int64(min(slots, reservation.maxJobs)))]) { row in
                        ReadyCandidate(id: try row[0].decode(Int64.self), priority: Int64(try row[1].decode(Int.self)),
                                       runAt: try row[2].decode(Int64.self), queue: queue, handler: handler)
                    }
                }
            }
            var reserved: [Job] = []
            for candidate in candidates.sorted() where reserved.count < reservation.maxJobs {
                let handler = candidate.handler ?? ""
                let slots = slotsLeft[candidate.queue] ?? clusterSlots(candidate.queue)
                guard slots > 0 else { continue }
                let startable = handlerStartsLeft[handler] ?? clusterStarts(handler)
                if let startable, startable <= 0 { continue }
                let job = try await session.job("reserve", """
                    UPDATE jobs SET state = 'running', attempts = attempts + 1, started_at = $1,
                                    lease_owner = $2, lease_token = $3, lease_worker = $4, lease_ms = $5,
                                    lease_expires_at = least($1 + $5, $1 + timeout_ms)
                    WHERE id = $6 AND state = 'queued' AND external AND NOT key_held
                    \(Self.returning)
                    """, [.int(now.rawValue), .text(node), .text(token()), .optionalText(reservation.worker),
                          .int(reservation.leaseMs ?? leaseMs(handler)), .int(candidate.id)])
                guard let job else { continue }
                move(job.queue, from: .queued, to: .running)
                note(.started(waitMilliseconds: now.rawValue - job.runAt.rawValue), job)
                windows?.record(job)
                slotsLeft[candidate.queue] = slots - 1
                handlerStartsLeft[handler] = startable.map { $0 - 1 }
                reserved.append(job)
            }
            answers.append(reserved)
        }
        if let windows, answers.contains(where: { !$0.isEmpty }) { try await saveRateWindows(windows) }
        return answers
    }

    /// What a claim or a reserve pass needs first, in one round trip (a
    /// claim is the statement a node runs most): the due `scheduled` and
    /// `retrying` jobs promoted to `queued` (at most 1,000), the paused
    /// queues, the queues with ready jobs as counted at the last commits,
    /// and the earliest `run_at` of the waiting jobs left (`nextRunAt`, the
    /// engine's timer). Returns the unpaused queues with ready jobs (and
    /// those this transaction made ready).
    func promoteAndListQueues() async throws(StoreError) -> [String] {
        let now = try await self.now()
        let rows = try await session.rows("claim", """
            WITH due AS MATERIALIZED (
                SELECT id, state AS was FROM jobs WHERE state IN ('scheduled', 'retrying') AND run_at <= $1
                ORDER BY run_at LIMIT 1000 FOR UPDATE SKIP LOCKED),
            promoted AS (
                UPDATE jobs SET state = 'queued' FROM due WHERE jobs.id = due.id
                RETURNING jobs.queue, due.was, jobs.id, jobs.handler, jobs.concurrency_key)
            SELECT 'promoted'::text, queue, was, id, handler, concurrency_key FROM promoted
            UNION ALL
            SELECT 'paused', name, NULL, NULL, NULL, NULL FROM queues WHERE paused
            UNION ALL
            SELECT 'ready', queue, NULL, NULL, NULL, NULL FROM job_counts WHERE state = 'queued' GROUP BY queue HAVING sum(n) > 0
            UNION ALL
            SELECT 'next', NULL, NULL, min(run_at), NULL, NULL FROM jobs
            WHERE state IN ('scheduled', 'retrying') AND id NOT IN (SELECT id FROM due)
            """, [.int(now.rawValue)]) { row in
            (kind: try row[0].decode(String.self), queue: try row[1].decode(String?.self), was: try row[2].decode(String?.self),
             id: try row[3].decode(Int64?.self), handler: try row[4].decode(String?.self), key: try row[5].decode(String?.self))
        }
        var paused = Set<String>(), ready = Set<String>()
        for row in rows {
            switch row.kind {
            case "promoted":
                guard let queue = row.queue, let id = row.id, let handler = row.handler else { continue }
                move(queue, from: JobState(rawValue: row.was ?? "") ?? .scheduled, to: .queued)
                if let key = row.key { try await admitOrHold(id, handler: handler, key: key) }
            case "paused": if let queue = row.queue { paused.insert(queue) }
            case "ready": if let queue = row.queue { ready.insert(queue) }
            default: nextRunAt = .some(row.id.map(Timestamp.init(millisecondsSinceEpoch:)))
            }
        }
        return ready.union(readyQueues).subtracting(paused).sorted()
    }

    /// See `WriteTransaction.heartbeat`.
    func heartbeat(_ id: JobID, token: String, leaseMs: Int64?, progress: RawJSON?) async throws(StoreError) -> Result<HeartbeatOutcome, LeaseLost> {
        let now = try await self.now()
        let expires = try await session.firstRow("heartbeat", """
            UPDATE jobs SET lease_expires_at = least($1 + coalesce($2, lease_ms), started_at + timeout_ms),
                            progress = coalesce($3, progress)
            WHERE id = $4 AND state = 'running' AND lease_token = $5 AND lease_expires_at > $1
            RETURNING lease_expires_at
            """, [.int(now.rawValue), .optionalInt(leaseMs), .optionalText(progress?.text), .int(id.rawValue), .text(token)]) {
            Timestamp(millisecondsSinceEpoch: try $0[0].decode(Int64.self))
        }
        guard let expires else { return .failure(try await leaseLost(id)) }
        return .success(HeartbeatOutcome(expiresAt: expires))
    }

    /// `running` -> `succeeded` for the holder of the current token.
    func complete(_ id: JobID, token: String, result: RawJSON?, resultTruncated: Bool) async throws(StoreError) -> Result<Job, LeaseLost> {
        let now = try await self.now()
        let job = try await session.job("complete", """
            UPDATE jobs SET state = 'succeeded', finished_at = $3, result = $4, result_truncated = $5,
                            lease_owner = NULL, lease_expires_at = NULL, lease_token = NULL, lease_worker = NULL
            WHERE id = $1 AND state = 'running' AND lease_token = $2 AND lease_expires_at > $3
            \(Self.returning)
            """, [.int(id.rawValue), .text(token), .int(now.rawValue), .optionalText(result?.text), .bool(resultTruncated)])
        guard let job else { return .failure(try await leaseLost(id)) }
        try await ended(job, from: .running)
        return .success(job)
    }

    /// A failed attempt reported by the holder of the current token.
    func fail(_ id: JobID, token: String, failure: JobFailure, disposition: FailureDisposition) async throws(StoreError) -> Result<Job, LeaseLost> {
        guard let held = try await heldAttempt(id, token: token, expired: false),
              let job = try await fail(id, attempt: held.attempt, failure: failure, disposition: disposition, owner: held.owner) else {
            return .failure(try await leaseLost(id))
        }
        return .success(job)
    }

    /// See `JobStore.expire`: only while the lease has run out (a heartbeat
    /// through another node may have extended it).
    func expire(_ id: JobID, token: String, failure: JobFailure, retryAfterMs: Int64) async throws(StoreError) -> Job? {
        guard let held = try await heldAttempt(id, token: token, expired: true) else { return nil }
        return try await fail(id, attempt: held.attempt, failure: failure, disposition: .retry(afterMs: retryAfterMs), owner: held.owner)
    }

    /// The attempt `token` holds and the node that reserved it, locked:
    /// while its lease runs (`expired` false), or once it has run out.
    private func heldAttempt(_ id: JobID, token: String, expired: Bool) async throws(StoreError) -> (attempt: Int, owner: String)? {
        let now = try await self.now()
        return try await session.firstRow("check lease", """
            SELECT attempts, lease_owner FROM jobs
            WHERE id = $1 AND state = 'running' AND lease_token = $2 AND \(expired ? "lease_expires_at <= $3" : "lease_expires_at > $3")
            FOR UPDATE
            """, [.int(id.rawValue), .text(token), .int(now.rawValue)]) { row in
            (try row[0].decode(Int.self), try row[1].decode(String.self))
        }
    }

    /// The refusal of a call whose token does not hold the job (1001 when there is no job).
    private func leaseLost(_ id: JobID) async throws(StoreError) -> LeaseLost {
        let state = try await session.firstRow("check lease", "SELECT state FROM jobs WHERE id = $1", [.int(id.rawValue)]) {
            try $0[0].decode(String.self)
        }
        guard let state else { throw .notFound(id) }
        return LeaseLost(id: id, state: JobState(rawValue: state) ?? .running)
    }

    /// The external leases this node granted that still run (at start-up:
    /// leases survive a restart; those of other nodes are theirs, or the
    /// leader's to expire).
    func heldLeases() async throws(StoreError) -> [Job] {
        try await session.jobs("read leases", """
            SELECT \(PostgresJobRow.columns) FROM jobs WHERE state = 'running' AND lease_token IS NOT NULL AND lease_owner = $1
            """, [.text(node)])
    }

    /// See `WriteTransaction.setExternalHandlers`: every node must configure
    /// the same external handlers (a node's start or reload sets them all).
    func setExternalHandlers(_ names: [String]) async throws(StoreError) -> Int {
        try await session.run("mark external jobs", """
            UPDATE jobs SET external = (handler = ANY (string_to_array($1, chr(31))))
            WHERE state IN ('scheduled', 'retrying', 'queued', 'blocked')
              AND external <> (handler = ANY (string_to_array($1, chr(31))))
            RETURNING 1
            """, [.text(names.joined(separator: "\u{1f}"))])
    }
}
