import JobCore

/// Concurrency keys (SCHEDULING.md): at most `key_concurrency` jobs of a
/// handler with the same key are *admitted* (running, or queued and
/// claimable). The rest wait `queued` with `key_held = 1`, in an index of
/// their own (`jobs_key_held`), so the claim's index holds only jobs it may
/// take: no head-of-line blocking, and a claim costs the same with 100,000
/// jobs held on one key. An admitted job that stops running lets the best
/// held one of its key in, by that index.
extension WriteTransaction {
    /// Whether the key has room for one more admitted job (`excluding` one
    /// already counted as admitted, such as a job just unblocked).
    func keyHasRoom(handler: String, key: String, excluding id: Int64 = 0) throws(StoreError) -> Bool {
        let limit = keyConcurrency(handler)
        let admitted = try connection.firstRow("concurrency key", Self.admittedCount, [.text(handler), .text(key), .int(id), .int(Int64(limit))]) {
            $0.int(0)
        } ?? 0
        return admitted < limit
    }

    /// A keyed job just became `queued`: it stays claimable while its key
    /// has room, else it is held.
    func admitOrHold(_ id: Int64, handler: String, key: String) throws(StoreError) {
        guard try !keyHasRoom(handler: handler, key: key, excluding: id) else { return }
        try connection.run("concurrency key", "UPDATE jobs SET key_held = 1 WHERE id = ? AND state = 'queued'", [.int(id)])
    }

    /// A keyed job left `queued`/`running` (it ended, or waits for a
    /// retry): the best held jobs of its key take the room.
    func releaseKey(handler: String, key: String) throws(StoreError) {
        while try keyHasRoom(handler: handler, key: key) {
            let next = try connection.firstRow("concurrency key", Self.bestHeld, [.text(handler), .text(key)]) { $0.int(0) }
            guard let next else { return }
            try connection.run("concurrency key", "UPDATE jobs SET key_held = 0 WHERE id = ?", [.int(next)])
            keysReleased += 1
        }
    }

    /// Lets held jobs in wherever their key has room (a `key_concurrency`
    /// raised by a reload). Returns how many were let in.
    func releaseHeldKeys() throws(StoreError) -> Int {
        let keys = try connection.rows("concurrency keys", "SELECT DISTINCT handler, concurrency_key FROM jobs INDEXED BY jobs_key_held WHERE key_held = 1") {
            (handler: $0.text(0), key: $0.text(1))
        }
        let before = keysReleased
        for (handler, key) in keys { try releaseKey(handler: handler, key: key) }
        return keysReleased - before
    }

    /// Counts at most `limit` (the index range stops there).
    private static let admittedCount = """
        SELECT count(*) FROM (SELECT 1 FROM jobs INDEXED BY jobs_key_admitted
            WHERE handler = ? AND concurrency_key = ? AND concurrency_key IS NOT NULL AND key_held = 0
              AND state IN ('queued', 'running') AND id <> ? LIMIT ?)
        """

    private static let bestHeld = """
        SELECT id FROM jobs INDEXED BY jobs_key_held
        WHERE key_held = 1 AND handler = ? AND concurrency_key = ?
        ORDER BY priority DESC, run_at, id LIMIT 1
        """
}

extension WriteTransaction {
    /// A job changed state from `old` (counted in `job_counts`); keys and
    /// dependents follow: a keyed job that stops running lets the next of
    /// its key in, and a terminal job settles its dependents.
    /// `attemptRan`: false for an attempt the daemon's stop cut short (its
    /// "duration" would be the downtime, not the job's).
    func moved(_ job: Job, from old: JobState, attemptRan: Bool = true) throws(StoreError) {
        counts.move(job.queue, from: old, to: job.state)
        if old == .running, attemptRan, let started = job.startedAt {
            metricEvents.note(.attemptEnded(milliseconds: now.rawValue - started.rawValue), queue: job.queue, handler: job.handler)
        }
        if job.state.isTerminal && !old.isTerminal { metricEvents.note(.finished(job.state), queue: job.queue, handler: job.handler) }
        let releases = job.concurrencyKey != nil && (old == .queued || old == .running) && job.state != .queued && job.state != .running
        let settles = job.hasDependents && job.state.isTerminal
        guard releases || settles else { return }
        do {
            if releases, let key = job.concurrencyKey { try releaseKey(handler: job.handler, key: key) }
            if settles { try settleDependents(of: job) }
        } catch {
            // Half of it must never commit: give up the whole transaction
            // (every request in it gets the error, nothing is written).
            try? connection.executePrepared("ROLLBACK")
            throw error
        }
    }
}
