import JobCore

/// The state of one group-commit transaction, handed to every request in it.
/// Lives on the writer thread only.
final class WriteTransaction {
    let connection: SQLiteConnection
    /// The one clock reading of this transaction.
    let now: Timestamp
    let leaseOwner: String
    let maxActiveJobs: Int
    /// Jobs not yet terminal, read once per transaction when first needed.
    /// Never decremented when a request rolls back, so it can only err
    /// towards refusing (and only within this transaction).
    private var activeJobs: Int?
    /// Jobs this transaction inserted (for the failpoints).
    var enqueued = 0
    /// The state changes to apply to `job_counts` before COMMIT.
    var counts = JobCounts()
    /// Each handler's `key_concurrency` (1 when the config gives none).
    let keyConcurrencyLimits: [String: Int]
    /// Blocked jobs this transaction cancelled because a dependency failed
    /// (their waiters are told after the commit), and jobs it let go:
    /// unblocked, or released by their concurrency key (the dispatcher is
    /// woken). Kept only for requests that succeeded.
    private(set) var settled = SettledJobs()
    var settledJobs: [Job] = []
    var unblocked = 0
    var keysReleased = 0
    /// What `/metrics` counts, kept until COMMIT (the writer's reused buffer).
    let metricEvents: MetricEventBuffer

    init(connection: SQLiteConnection, now: Timestamp, leaseOwner: String, maxActiveJobs: Int, keyConcurrency: [String: Int] = [:],
         metricEvents: MetricEventBuffer) {
        self.connection = connection
        self.now = now
        self.leaseOwner = leaseOwner
        self.maxActiveJobs = maxActiveJobs
        self.keyConcurrencyLimits = keyConcurrency
        self.metricEvents = metricEvents
    }

    func keyConcurrency(_ handler: String) -> Int { keyConcurrencyLimits[handler] ?? 1 }

    /// The request ran to its end: what it settled is kept.
    func requestSucceeded() {
        counts.requestSucceeded()
        metricEvents.requestSucceeded()
        settled.cancelled += settledJobs
        settled.released += unblocked + keysReleased
        clearRequestSettled()
    }

    /// The request was rolled back: what it settled never happened.
    func requestRolledBack() {
        counts.requestRolledBack()
        metricEvents.requestRolledBack()
        clearRequestSettled()
    }

    private func clearRequestSettled() {
        settledJobs.removeAll()
        unblocked = 0
        keysReleased = 0
    }

    /// Counts one more job that is not terminal, or refuses with `overloaded`.
    func reserveActiveSlot() throws(StoreError) {
        if activeJobs == nil {
            let count = try connection.firstRow(
                "count active jobs",
                "SELECT coalesce(sum(n), 0) FROM job_counts WHERE state IN \(SQLStates.list(JobState.active))"
            ) { $0.int(0) }
            activeJobs = Int(count ?? 0)
        }
        guard activeJobs! < maxActiveJobs else { throw .overloaded(limit: maxActiveJobs) }
        activeJobs! += 1
    }

    /// The job with this id, read inside the transaction.
    func job(_ id: JobID, operation: String) throws(StoreError) -> Job {
        let job = try connection.firstRow(operation, "SELECT \(JobRow.columns) FROM jobs WHERE id = ?", [.int(id.rawValue)], JobRow.decode)
        guard let job else { throw .notFound(id) }
        return job
    }

    /// The job that holds `uniqueKey` while not terminal, if any.
    func activeJob(uniqueKey: String) throws(StoreError) -> (id: JobID, state: JobState)? {
        try connection.firstRow(
            "find unique_key",
            "SELECT id, state FROM jobs WHERE unique_key = ? AND state IN \(SQLStates.list(JobState.active))",
            [.text(uniqueKey)]
        ) { row in (JobID(row.int(0)), JobState(rawValue: row.text(1)) ?? .queued) }
    }
}

/// What a transaction's dependencies and keys changed besides its requests' own jobs.
public struct SettledJobs: Sendable {
    /// Blocked jobs cancelled because a dependency failed or was cancelled.
    public var cancelled: [Job] = []
    /// Jobs that became claimable: unblocked, or let in by their key.
    public var released = 0
    /// Jobs that ended on another node (PostgreSQL): their waiters here read them and wake.
    public var endedElsewhere: [JobID] = []
    /// A poll tick (no notification came): waiters look at their jobs again.
    public var polled = false
    /// This node's lease ran out (PostgreSQL): its running handlers stop.
    public var leaseLost = false

    public init() {}

    public var isEmpty: Bool { cancelled.isEmpty && released == 0 }
}

/// State names as SQL literals, built from the model so the SQL guards and
/// `JobState`'s transitions cannot drift apart.
enum SQLStates {
    /// `('a', 'b')`
    static func list(_ states: [JobState]) -> String {
        "(" + states.map { "'\($0.rawValue)'" }.joined(separator: ", ") + ")"
    }

    /// `state IN (...)`: the states in which `event` is allowed.
    static func guardFor(_ event: JobEvent) -> String {
        "state IN \(list(event.allowedSources))"
    }
}
