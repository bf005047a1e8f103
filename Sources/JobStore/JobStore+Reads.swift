import JobCore

/// Reads run on a WAL read connection, never behind the writer's queue.
/// They block the calling thread briefly (an index lookup, or one page of rows).
extension JobStore {
    /// The job with this id, or nil.
    public func get(_ id: JobID) throws(StoreError) -> Job? {
        try read("get") { db throws(StoreError) in
            try db.firstRow("get", "SELECT \(JobRow.columns) FROM jobs WHERE id = ?", [.int(id.rawValue)], JobRow.decode)
        }
    }

    /// One page of jobs in increasing id order after `filter.afterID`, or
    /// in decreasing order below `filter.beforeID` (`newestFirst`).
    public func list(_ filter: ListFilter) throws(StoreError) -> JobPage {
        let bound: (condition: String, id: Int64) = filter.newestFirst
            ? ("id < ?", filter.beforeID ?? Int64.max) : ("id > ?", filter.afterID)
        var conditions = [bound.condition]
        var bindings: [SQLiteValue] = [.int(bound.id)]
        if let queue = filter.queue { conditions.append("queue = ?"); bindings.append(.text(queue)) }
        if let state = filter.state { conditions.append("state = ?"); bindings.append(.text(state.rawValue)) }
        if let handler = filter.handler { conditions.append("handler = ?"); bindings.append(.text(handler)) }
        if let tag = filter.tag {
            conditions.append("id IN (SELECT job_id FROM job_tags WHERE tag = ? AND job_\(bound.condition))")
            bindings += [.text(tag), .int(bound.id)]
        }
        let limit = max(filter.limit, 1)
        bindings.append(.int(Int64(limit) + 1))  // one more tells whether a next page exists
        let sql = "SELECT \(JobRow.columns) FROM jobs WHERE \(conditions.joined(separator: " AND ")) ORDER BY id\(filter.newestFirst ? " DESC" : "") LIMIT ?"
        var jobs = try read("list") { db throws(StoreError) in try db.rows("list", sql, bindings, JobRow.decode) }
        var next: Int64? = nil
        if jobs.count > limit {
            jobs.removeLast()
            next = jobs.last?.id.rawValue
        }
        return JobPage(jobs: jobs, nextAfterID: next)
    }

    /// Jobs per state of every queue that holds jobs or has been paused or resumed.
    public func stats() throws(StoreError) -> [String: QueueStats] {
        try read("stats") { db throws(StoreError) in
            var queues: [String: QueueStats] = [:]
            let empty = Dictionary(uniqueKeysWithValues: JobState.allCases.map { ($0, 0) })
            for (queue, paused) in try db.rows("stats", "SELECT name, paused FROM queues", [], { ($0.text(0), $0.int(1) != 0) }) {
                queues[queue] = QueueStats(counts: empty, paused: paused)
            }
            for (queue, state, n) in try db.rows("stats", "SELECT queue, state, n FROM job_counts WHERE n > 0", [], {
                ($0.text(0), JobState(rawValue: $0.text(1)), Int($0.int(2)))
            }) {
                guard let state else { continue }
                queues[queue, default: QueueStats(counts: empty, paused: false)].counts[state] = n
            }
            return queues
        }
    }

    /// The earliest `run_at` of a `scheduled` or `retrying` job: when the
    /// scheduler should next promote. Nil when none waits.
    public func nextWakeTime() throws(StoreError) -> Timestamp? {
        try read("next wake time") { db throws(StoreError) in
            try db.firstRow(
                "next wake time",
                """
                SELECT run_at FROM jobs INDEXED BY jobs_waiting
                WHERE state IN \(SQLStates.list(JobState.waiting)) ORDER BY run_at LIMIT 1
                """
            ) { Timestamp(millisecondsSinceEpoch: $0.int(0)) }
        }
    }

    /// Whether `claim(request)` could find a job at `now`: a waiting job
    /// that is due, or a queued one in an unpaused queue with a free slot.
    /// A read of the last commit: no transaction, no fsync. A dispatcher
    /// woken with nothing to claim (the enqueue took its own job) then costs
    /// no commit; a job committed after this read wakes the dispatcher again.
    public func mayClaim(_ request: ClaimRequest, now: Timestamp) throws(StoreError) -> Bool {
        guard request.maxJobs + request.ahead > 0 else { return false }
        return try read("look for ready jobs") { db throws(StoreError) in
            let due = try db.firstRow(
                "look for ready jobs",
                """
                SELECT 1 FROM jobs INDEXED BY jobs_waiting
                WHERE state IN \(SQLStates.list(JobState.waiting)) AND run_at <= ? LIMIT 1
                """, [.int(now.rawValue)]) { _ in true } ?? false
            if due { return true }
            let ready = try db.rows(
                "look for ready jobs",
                """
                SELECT queue FROM job_counts WHERE state = 'queued' AND n > 0
                AND queue NOT IN (SELECT name FROM queues WHERE paused = 1)
                """) { $0.text(0) }
            // A queue may hold only external jobs: look for the daemon's own.
            for queue in ready where request.limit(for: queue) > 0 {
                let own = try db.firstRow("look for ready jobs", """
                    SELECT 1 FROM jobs INDEXED BY jobs_ready WHERE state = 'queued' AND external = 0 AND key_held = 0 AND queue = ? LIMIT 1
                    """, [.text(queue)]) { _ in true } ?? false
                if own { return true }
            }
            return false
        }
    }

    /// Whether `reserve` could find a job of `handlers` at `now`: a due
    /// waiting external job, or a ready one in an unpaused queue with a
    /// free slot. A read of the last commit, like `mayClaim`.
    public func mayReserve(handlers: Set<String>, now: Timestamp, freeSlots: (String) -> Int) throws(StoreError) -> Bool {
        let queues = try read("look for external jobs") { db throws(StoreError) in
            let due = try db.firstRow("look for external jobs", """
                SELECT 1 FROM jobs INDEXED BY jobs_waiting
                WHERE state IN \(SQLStates.list(JobState.waiting)) AND run_at <= ? AND external = 1 LIMIT 1
                """, [.int(now.rawValue)]) { _ in true } ?? false
            if due { return nil as [String]? }
            return try db.rows("look for external jobs", """
                SELECT queue FROM job_counts WHERE state = 'queued' AND n > 0
                AND queue NOT IN (SELECT name FROM queues WHERE paused = 1)
                """) { $0.text(0) }
        }
        guard let queues else { return true }
        let open = queues.filter { freeSlots($0) > 0 }
        guard !open.isEmpty else { return false }
        return try read("look for external jobs") { db throws(StoreError) in
            for queue in open {
                for handler in handlers {
                    let found = try db.firstRow("look for external jobs", """
                        SELECT 1 FROM jobs INDEXED BY jobs_ready_external
                        WHERE state = 'queued' AND external = 1 AND key_held = 0 AND handler = ? AND queue = ? LIMIT 1
                        """, [.text(handler), .text(queue)]) { _ in true } ?? false
                    if found { return true }
                }
            }
            return false
        }
    }

    /// Those of `queues` that hold ready jobs of the daemon's own (not external).
    public func queuesWithOwnReadyJobs(among queues: Set<String>) throws(StoreError) -> Set<String> {
        try read("look for ready jobs") { db throws(StoreError) in
            var found: Set<String> = []
            for queue in queues {
                let own = try db.firstRow("look for ready jobs", """
                    SELECT 1 FROM jobs INDEXED BY jobs_ready WHERE state = 'queued' AND external = 0 AND key_held = 0 AND queue = ? LIMIT 1
                    """, [.text(queue)]) { _ in true } ?? false
                if own { found.insert(queue) }
            }
            return found
        }
    }

    /// Whether `queue` is paused (persisted across restarts).
    public func isPaused(queue: String) throws(StoreError) -> Bool {
        try read("read queue") { db throws(StoreError) in
            try db.firstRow("read queue", "SELECT paused FROM queues WHERE name = ?", [.text(queue)]) { $0.int(0) != 0 } ?? false
        }
    }
}

extension JobStore {
    /// The `run_at` of each queue's oldest job that is due and not started
    /// (`jobqueue_queue_oldest_due_seconds`): ready jobs, and waiting ones
    /// whose time has come but that are not promoted yet. A job held back by
    /// its concurrency key is not counted: it waits by design. Reads every
    /// ready job's index entry (a scrape's cost grows with the backlog).
    public func oldestDue(now: Timestamp) throws(StoreError) -> [String: Timestamp] {
        try read("oldest due") { db throws(StoreError) in
            var oldest: [String: Timestamp] = [:]
            let rows = try db.rows("oldest due", """
                SELECT queue, min(run_at) FROM jobs WHERE state = 'queued' AND key_held = 0 GROUP BY queue
                UNION ALL
                SELECT queue, min(run_at) FROM jobs INDEXED BY jobs_waiting
                WHERE state IN \(SQLStates.list(JobState.waiting)) AND run_at <= ? GROUP BY queue
                """, [.int(now.rawValue)]) { row in (queue: row.text(0), runAt: Timestamp(rawValue: row.int(1))) }
            for row in rows { oldest[row.queue] = min(oldest[row.queue] ?? row.runAt, row.runAt) }
            return oldest
        }
    }
}
