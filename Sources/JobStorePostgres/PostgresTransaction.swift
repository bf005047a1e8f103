import JobCore
import JobStore
import Logging
import PostgresNIO

/// A bound value of a statement.
enum PGValue {
    case int(Int64)
    case text(String)
    case bool(Bool)
    case null

    static func optionalText(_ value: String?) -> PGValue { value.map { .text($0) } ?? .null }
    static func optionalInt(_ value: Int64?) -> PGValue { value.map { .int($0) } ?? .null }
}

/// One connection's statements, inside a transaction or not: every call is
/// one round trip, and every error becomes a `StoreError` for `operation`.
struct PostgresSession {
    let connection: PostgresConnection
    let logger: Logger

    func rows<T>(_ operation: String, _ sql: String, _ values: [PGValue] = [],
                 _ decode: (PostgresRandomAccessRow) throws -> T) async throws(StoreError) -> [T] {
        do {
            var found: [T] = []
            for try await row in try await connection.query(Self.query(sql, values), logger: logger) {
                found.append(try decode(row.makeRandomAccess()))
            }
            return found
        } catch let error as StoreError {
            throw error
        } catch {
            throw PostgresStore.storeError(error, operation: operation)
        }
    }

    func firstRow<T>(_ operation: String, _ sql: String, _ values: [PGValue] = [],
                     _ decode: (PostgresRandomAccessRow) throws -> T) async throws(StoreError) -> T? {
        try await rows(operation, sql, values, decode).first
    }

    /// Runs a statement; returns the rows it returned (a `RETURNING 1` counts changes).
    @discardableResult
    func run(_ operation: String, _ sql: String, _ values: [PGValue] = []) async throws(StoreError) -> Int {
        try await rows(operation, sql, values) { _ in () }.count
    }

    func jobs(_ operation: String, _ sql: String, _ values: [PGValue] = []) async throws(StoreError) -> [Job] {
        try await rows(operation, sql, values, PostgresJobRow.decode)
    }

    func job(_ operation: String, _ sql: String, _ values: [PGValue] = []) async throws(StoreError) -> Job? {
        try await jobs(operation, sql, values).first
    }

    private static func query(_ sql: String, _ values: [PGValue]) -> PostgresQuery {
        var binds = PostgresBindings(capacity: values.count)
        for value in values {
            switch value {
            case .int(let n): binds.append(n)
            case .text(let s): binds.append(s)
            case .bool(let b): binds.append(b)
            case .null: binds.appendNull()
            }
        }
        return PostgresQuery(unsafeSQL: sql, binds: binds)
    }
}

/// One group-commit transaction: the session, the node's name, and the
/// counts each request changes (written once, before COMMIT, into this
/// node's own `job_counts` rows).
final class PostgresTransaction: @unchecked Sendable {  // one task at a time: the writer's
    let session: PostgresSession
    let node: String
    let maxActiveJobs: Int
    /// Each handler's `key_concurrency` (1 for one not listed).
    let keyLimits: [String: Int]
    /// The configured rate limits, counted across the cluster (PostgresTransaction+RateLimits).
    let rateLimits: [String: SharedRateLimit]
    private(set) var counts: [CountKey: Int] = [:]
    private var requestCounts: [CountKey: Int] = [:]
    /// Unfinished jobs counted once per transaction (for `max_queued_jobs`).
    private var activeJobs: Int?
    /// Queues that got ready jobs: their nodes are told after the commit.
    var readyQueues: Set<String> = []
    /// Jobs that ended: waiters on every node are told after the commit.
    var finished: [JobID] = []
    /// Blocked jobs cancelled by a failed dependency (this node's waiters and engine are told).
    var settledJobs: [Job] = []
    /// Jobs unblocked or let in by their key.
    var released = 0
    /// The earliest `run_at` of a waiting job, when a claim read it
    /// (`.some(nil)`: none waits); nil when this transaction did not read it.
    var nextRunAt: Timestamp??
    /// A job became `scheduled` or `retrying` here: a `nextRunAt` read before may be late.
    private(set) var addedWaiting = false
    /// What `/metrics` counts of this transaction's requests (recorded after the commit).
    let metricEvents = MetricEventBuffer(capacity: 64)
    private var startedAt: Timestamp?

    struct CountKey: Hashable {
        var queue: String
        var state: JobState
    }

    init(session: PostgresSession, node: String, maxActiveJobs: Int, keyLimits: [String: Int] = [:],
         rateLimits: [String: SharedRateLimit] = [:]) {
        self.session = session
        self.node = node
        self.maxActiveJobs = maxActiveJobs
        self.keyLimits = keyLimits
        self.rateLimits = rateLimits
    }

    /// The database's clock, read once per transaction (every node agrees on it).
    func now() async throws(StoreError) -> Timestamp {
        if let startedAt { return startedAt }
        let read = try await session.firstRow("read the clock", "SELECT jq_now()") { try $0[0].decode(Int64.self) }
        guard let read else { throw .internalError(operation: "read the clock", message: "jq_now() returned nothing") }
        startedAt = Timestamp(millisecondsSinceEpoch: read)
        return startedAt!
    }

    func add(_ queue: String, _ state: JobState, _ delta: Int) {
        requestCounts[CountKey(queue: queue, state: state), default: 0] += delta
        if state == .queued && delta > 0 { readyQueues.insert(queue) }
        if (state == .scheduled || state == .retrying) && delta > 0 { addedWaiting = true }
        if !state.isTerminal { activeJobs = activeJobs.map { $0 + delta } }
    }

    func move(_ queue: String, from old: JobState, to new: JobState) {
        guard old != new else { return }
        add(queue, old, -1)
        add(queue, new, +1)
    }

    /// The database clock this transaction read, if it read it.
    var readClock: Timestamp? { startedAt }

    func note(_ kind: MetricEvent.Kind, _ job: Job) {
        metricEvents.note(kind, queue: job.queue, handler: job.handler)
    }

    func requestSucceeded() {
        metricEvents.requestSucceeded()
        counts.merge(requestCounts) { $0 + $1 }
        requestCounts.removeAll(keepingCapacity: true)
    }

    /// Refuses a new unfinished job past `max_queued_jobs` (one count per transaction).
    func reserveActiveSlot() async throws(StoreError) {
        // At the default, the count (a read per transaction) is not worth it: nobody reaches ten million.
        guard maxActiveJobs < StoreOptions.defaultMaxActiveJobs else { return }
        if activeJobs == nil {
            let counted = try await session.firstRow("count unfinished jobs", """
                SELECT coalesce(sum(n), 0)::bigint FROM job_counts
                WHERE state IN ('blocked', 'scheduled', 'queued', 'running', 'retrying')
                """) { try $0[0].decode(Int64.self) } ?? 0
            let pending = (counts.merging(requestCounts) { $0 + $1 }).filter { !$0.key.state.isTerminal }.values.reduce(0, +)
            activeJobs = Int(counted) + pending
        }
        if (activeJobs ?? 0) >= maxActiveJobs { throw .overloaded(limit: maxActiveJobs) }
    }

    /// Adds this transaction's count changes to this node's rows, in one statement.
    func writeCounts() async throws(StoreError) {
        let changed = counts.filter { $0.value != 0 }.sorted { ($0.key.queue, $0.key.state.rawValue) < ($1.key.queue, $1.key.state.rawValue) }
        guard !changed.isEmpty else { return }
        let separator = "\u{1f}"
        try await session.run("update job counts", """
            INSERT INTO job_counts (node, queue, state, n)
            SELECT $1, c.queue, c.state, c.n
            FROM unnest(string_to_array($2, chr(31)), string_to_array($3, chr(31)), string_to_array($4, chr(31))::bigint[])
                 AS c (queue, state, n)
            ON CONFLICT (node, queue, state) DO UPDATE SET n = job_counts.n + excluded.n
            RETURNING 1
            """, [.text(node), .text(changed.map(\.key.queue).joined(separator: separator)),
                  .text(changed.map(\.key.state.rawValue).joined(separator: separator)),
                  .text(changed.map { String($0.value) }.joined(separator: separator))])
    }
}
