import JobCore

/// The changes of one transaction to `job_counts`, kept in memory and
/// written once before COMMIT. A request's own changes are held apart until
/// its savepoint is released, so a rolled-back request leaves no trace.
struct JobCounts {
    private struct Key: Hashable {
        var queue: String
        var state: JobState
    }

    private var committed: [Key: Int] = [:]
    private var request: [Key: Int] = [:]

    mutating func add(_ queue: String, _ state: JobState, _ delta: Int) {
        request[Key(queue: queue, state: state), default: 0] += delta
    }

    mutating func move(_ queue: String, from old: JobState, to new: JobState) {
        guard old != new else { return }
        add(queue, old, -1)
        add(queue, new, +1)
    }

    /// Queues whose count in `state` this transaction changed (not yet in `job_counts`).
    func queuesChanged(in state: JobState) -> Set<String> {
        Set(committed.keys.filter { $0.state == state }.map(\.queue) + request.keys.filter { $0.state == state }.map(\.queue))
    }

    /// The current request's savepoint was released: keep its changes.
    mutating func requestSucceeded() {
        committed.merge(request, uniquingKeysWith: +)
        request.removeAll(keepingCapacity: true)
    }

    /// The current request's savepoint was rolled back: forget its changes.
    mutating func requestRolledBack() {
        request.removeAll(keepingCapacity: true)
    }

    /// Writes the kept changes into `job_counts`.
    func write(to connection: SQLiteConnection) throws(StoreError) {
        for (key, delta) in committed where delta != 0 {
            let bindings: [SQLiteValue] = [.text(key.queue), .text(key.state.rawValue), .int(Int64(delta))]
            // Not an upsert: its CHECK (n >= 0) would see a negative delta before the conflict.
            let updated = try connection.run(
                "update job counts", "UPDATE job_counts SET n = n + ?3 WHERE queue = ?1 AND state = ?2", bindings)
            if updated == 0 {
                try connection.run("update job counts", "INSERT INTO job_counts (queue, state, n) VALUES (?1, ?2, ?3)", bindings)
            }
        }
    }
}
