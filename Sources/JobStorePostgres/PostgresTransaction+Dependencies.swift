import JobCore
import JobStore

/// Dependencies and concurrency keys (SCHEDULING.md) on PostgreSQL, as on
/// SQLite (`WriteTransaction+Dependencies`, `+Keys`), made safe for nodes
/// that write at the same time:
/// - a new job locks each dependency's row while it records that it waits
///   (the dependency's end waits for that commit and then finds it, or the
///   new job sees the end);
/// - everything that counts or changes a key's admitted jobs first takes a
///   transaction-scoped advisory lock on (handler, key), so two nodes never
///   admit past `key_concurrency` together.
extension PostgresTransaction {
    // MARK: Dependencies

    /// Reads (and locks) each dependency; one that does not exist is an error.
    func checkDependencies(_ ids: [JobID], batchIndex: Int? = nil, failedArePending: Bool = false) async throws(StoreError)
        -> (pending: [JobID], failed: (id: JobID, state: JobState)?) {
        var pending: [JobID] = []
        var failed: (id: JobID, state: JobState)?
        var seen = Set<JobID>()
        for id in ids where seen.insert(id).inserted {
            let state = try await session.firstRow("check dependencies", "SELECT state FROM jobs WHERE id = $1 FOR UPDATE", [.int(id.rawValue)]) {
                JobState(rawValue: try $0[0].decode(String.self))
            }
            guard let found = state, let state = found else { throw .dependencyNotFound(id, index: batchIndex) }
            switch state {
            case .succeeded: continue
            case .failed, .cancelled:
                if failedArePending { pending.append(id) } else if failed == nil { failed = (id, state) }
            default: pending.append(id)
            }
        }
        return (pending, failed)
    }

    static func dependencyMessage(_ id: JobID, _ state: JobState) -> String {
        state == .failed ? "dependency \(id) failed" : "dependency \(id) was cancelled"
    }

    /// Records that `job` waits for each of `dependencies` (rows locked by `checkDependencies`).
    func recordDependencies(of job: Int64, on dependencies: [JobID]) async throws(StoreError) {
        for dependency in dependencies {
            try await session.run("record dependencies", """
                INSERT INTO job_dependencies (depends_on, job_id) VALUES ($1, $2) ON CONFLICT DO NOTHING RETURNING 1
                """, [.int(dependency.rawValue), .int(job)])
            try await session.run("record dependencies", "UPDATE jobs SET has_dependents = true WHERE id = $1 AND NOT has_dependents RETURNING 1",
                                  [.int(dependency.rawValue)])
        }
    }

    /// A job changed state from `old`: keys and dependents follow, as in
    /// SQLite's `moved` (a keyed job that stops running lets the next in; a
    /// terminal job with dependents settles them).
    func keysAndDependentsFollow(_ job: Job, from old: JobState) async throws(StoreError) {
        if let key = job.concurrencyKey, old == .queued || old == .running, job.state != .queued, job.state != .running {
            try await releaseKey(handler: job.handler, key: key)
        }
        guard job.hasDependents, job.state.isTerminal else { return }
        if job.state == .succeeded {
            try await unblockDependents(of: job.id)
        } else {
            try await cancelDependents(of: job.id, state: job.state)
        }
    }

    private func takeDependents(of id: JobID) async throws(StoreError) -> [Int64] {
        try await session.rows("settle dependents", "DELETE FROM job_dependencies WHERE depends_on = $1 RETURNING job_id", [.int(id.rawValue)]) {
            try $0[0].decode(Int64.self)
        }
    }

    private func unblockDependents(of id: JobID) async throws(StoreError) {
        let now = try await self.now()
        for dependent in try await takeDependents(of: id).sorted() {
            let row = try await session.firstRow("unblock", """
                UPDATE jobs SET blocked_on = blocked_on - 1,
                                state = CASE WHEN blocked_on > 1 THEN state WHEN run_at > $1 THEN 'scheduled' ELSE 'queued' END
                WHERE id = $2 AND state = 'blocked'
                RETURNING state, queue, handler, concurrency_key
                """, [.int(now.rawValue), .int(dependent)]) { row in
                (state: JobState(rawValue: try row[0].decode(String.self)) ?? .blocked, queue: try row[1].decode(String.self),
                 handler: try row[2].decode(String.self), key: try row[3].decode(String?.self))
            }
            guard let row, row.state != .blocked else { continue }
            move(row.queue, from: .blocked, to: row.state)
            released += 1
            if row.state == .queued, let key = row.key { try await admitOrHold(dependent, handler: row.handler, key: key) }
        }
    }

    private func cancelDependents(of root: JobID, state rootState: JobState) async throws(StoreError) {
        let now = try await self.now()
        var frontier = [(root, rootState)]
        while let (id, state) = frontier.popLast() {
            for dependent in try await takeDependents(of: id).sorted() {
                let errors = try await session.firstRow("cancel dependents", "SELECT errors FROM jobs WHERE id = $1 AND state = 'blocked' FOR UPDATE",
                                                        [.int(dependent)]) { try JobRow.decodeErrors(try $0[0].decode(String.self)) }
                guard let errors else { continue }  // cancelled already, by another of its dependencies
                let failure = JobFailure(message: Self.dependencyMessage(id, state), at: now)
                let job = try await session.job("cancel dependents", """
                    UPDATE jobs SET state = 'cancelled', blocked_on = 0, finished_at = $1, errors = $2
                    WHERE id = $3 AND state = 'blocked'
                    \(Self.returning)
                    """, [.int(now.rawValue), .text(JobRow.encodeErrors(errors.appending(failure: failure))), .int(dependent)])
                guard let job else { continue }
                move(job.queue, from: .blocked, to: .cancelled)
                note(.finished(.cancelled), job)
                finished.append(job.id)
                settledJobs.append(job)
                if job.hasDependents { frontier.append((job.id, .cancelled)) }
            }
        }
    }

    // MARK: Concurrency keys

    /// Serializes this transaction's work on one key with every node's (until COMMIT).
    private func lockKey(handler: String, key: String) async throws(StoreError) {
        try await session.run("concurrency key", "SELECT 1 FROM pg_advisory_xact_lock(hashtextextended($1 || chr(31) || $2, 0))",
                              [.text(handler), .text(key)])
    }

    /// Whether the key has room for one more admitted job (`excluding` one already counted).
    func keyHasRoom(handler: String, key: String, excluding id: Int64 = 0) async throws(StoreError) -> Bool {
        try await lockKey(handler: handler, key: key)
        let limit = keyLimits[handler] ?? 1
        let admitted = try await session.firstRow("concurrency key", """
            SELECT count(*) FROM (SELECT 1 FROM jobs
                WHERE handler = $1 AND concurrency_key = $2 AND NOT key_held AND state IN ('queued', 'running') AND id <> $3
                LIMIT $4) admitted
            """, [.text(handler), .text(key), .int(id), .int(Int64(limit))]) { try $0[0].decode(Int64.self) } ?? 0
        return admitted < limit
    }

    /// A keyed job just became `queued`: it stays claimable while its key has room, else it is held.
    func admitOrHold(_ id: Int64, handler: String, key: String) async throws(StoreError) {
        guard try await !keyHasRoom(handler: handler, key: key, excluding: id) else { return }
        try await session.run("concurrency key", "UPDATE jobs SET key_held = true WHERE id = $1 AND state = 'queued' RETURNING 1", [.int(id)])
    }

    /// The best held jobs of the key take the room that was freed.
    func releaseKey(handler: String, key: String) async throws(StoreError) {
        while try await keyHasRoom(handler: handler, key: key) {
            let next = try await session.firstRow("concurrency key", """
                SELECT id, queue FROM jobs WHERE key_held AND handler = $1 AND concurrency_key = $2
                ORDER BY priority DESC, run_at, id LIMIT 1
                """, [.text(handler), .text(key)]) { (try $0[0].decode(Int64.self), try $0[1].decode(String.self)) }
            guard let (id, queue) = next else { return }
            try await session.run("concurrency key", "UPDATE jobs SET key_held = false WHERE id = $1 RETURNING 1", [.int(id)])
            readyQueues.insert(queue)
            released += 1
        }
    }

    /// Lets held jobs in wherever their key has room (a `key_concurrency` raised by a reload).
    func releaseHeldKeys() async throws(StoreError) -> Int {
        let keys = try await session.rows("concurrency keys", "SELECT DISTINCT handler, concurrency_key FROM jobs WHERE key_held") {
            (try $0[0].decode(String.self), try $0[1].decode(String.self))
        }
        let before = released
        for (handler, key) in keys.sorted(by: { ($0.0, $0.1) < ($1.0, $1.1) }) { try await releaseKey(handler: handler, key: key) }
        return released - before
    }
}
