import Foundation
import JobCore
import JobStore
import Logging
import PostgresNIO

/// One request's work inside a group-commit transaction, answered after COMMIT.
protocol PostgresWrite: AnyObject, Sendable {
    /// When it was submitted: its caller is answered within the deadline of that.
    var submitted: ContinuousClock.Instant { get }
    /// How often it ran again after a deadlock with another transaction.
    var busyRetries: Int { get set }
    func run(_ tx: PostgresTransaction) async throws(StoreError)
    func deliver()
    func fail(_ error: StoreError)
}

final class TypedPostgresWrite<T: Sendable>: PostgresWrite, @unchecked Sendable {
    private let body: (PostgresTransaction) async throws(StoreError) -> T
    private let completion: @Sendable (Result<T, StoreError>) -> Void
    private var value: T?  // set by `run`, read by `deliver`, on the writer's task only
    let submitted = ContinuousClock.now
    var busyRetries = 0

    init(_ body: @escaping (PostgresTransaction) async throws(StoreError) -> T,
         completion: @escaping @Sendable (Result<T, StoreError>) -> Void) {
        self.body = body
        self.completion = completion
    }

    func run(_ tx: PostgresTransaction) async throws(StoreError) {
        value = try await body(tx)
    }

    func deliver() {
        if let value { completion(.success(value)) }
    }

    func fail(_ error: StoreError) {
        completion(.failure(error))
    }
}

/// Group commit on PostgreSQL: the requests that arrive while a transaction
/// commits share the next one (at most `maxWrites`), on one connection of
/// the pool. PostgreSQL aborts a transaction at its first failed statement,
/// so a request that fails rolls the transaction back, gets its error, and
/// the others run again without it: nothing of a failed request remains.
/// A transaction that cannot reach the database in `deadline` fails all of
/// its requests with `unavailable` (CLUSTER.md: "after at most 5 s").
final class PostgresWriter: @unchecked Sendable {
    private let client: PostgresClient
    private let logger: Logger
    private let node: String
    private let maxWrites: Int
    private let deadline: Duration
    private let metrics: StoreMetrics
    private let lock = NSLock()
    private var pending: [any PostgresWrite] = []
    private var flushing = false
    private var closed = false
    private(set) var commits = 0
    private(set) var writes = 0
    private var limits: (maxActiveJobs: Int, keys: [String: Int], rates: [String: SharedRateLimit])  // guarded by `lock`; a reload changes them
    var maxActiveJobs: Int {
        get { lock.withLock { limits.maxActiveJobs } }
        set { lock.withLock { limits.maxActiveJobs = newValue } }
    }
    var keyLimits: [String: Int] {
        get { lock.withLock { limits.keys } }
        set { lock.withLock { limits.keys = newValue } }
    }
    var rateLimits: [String: SharedRateLimit] {
        get { lock.withLock { limits.rates } }
        set { lock.withLock { limits.rates = newValue } }
    }
    /// After each commit: the queues that got ready jobs, the jobs that
    /// ended, and what dependencies and keys changed besides the requests' own jobs.
    var afterCommit: (@Sendable (_ readyQueues: Set<String>, _ finished: [JobID], _ settled: SettledJobs) -> Void)?
    /// After each commit, before its callers are answered: the earliest
    /// `run_at` a claim read (nil: not read), and whether a job started to wait.
    var beforeAnswers: (@Sendable (_ nextRunAt: Timestamp??, _ addedWaiting: Bool) -> Void)?

    init(client: PostgresClient, logger: Logger, node: String, maxWrites: Int, maxActiveJobs: Int,
         deadline: Duration, metrics: StoreMetrics) {
        self.metrics = metrics
        self.client = client
        self.logger = logger
        self.node = node
        self.maxWrites = maxWrites
        self.limits = (maxActiveJobs, [:], [:])
        self.deadline = deadline
    }

    func submit(_ write: any PostgresWrite) {
        lock.lock()
        guard !closed else {
            lock.unlock()
            write.fail(.closed)
            return
        }
        pending.append(write)
        let start = !flushing
        flushing = true
        lock.unlock()
        if start { Task { await flush() } }
    }

    /// Waits for the writes submitted so far, then refuses new ones.
    func close() async {
        while lock.withLock({ flushing }) { try? await Task.sleep(for: .milliseconds(5)) }
        lock.withLock { closed = true }
    }

    var counters: (commits: Int, writes: Int) {
        lock.withLock { (commits, writes) }
    }

    private func flush() async {
        while true {
            let batch: [any PostgresWrite] = lock.withLock {
                let taken = Array(pending.prefix(maxWrites))
                pending.removeFirst(taken.count)
                if taken.isEmpty { flushing = false }
                return taken
            }
            if batch.isEmpty { return }
            await commit(batch)
        }
    }

    private func commit(_ batch: [any PostgresWrite]) async {
        var remaining = batch
        while !remaining.isEmpty {
            // Each caller is answered within `deadline` of its submission, not of this transaction's start.
            let oldest = remaining.map(\.submitted).min()!
            let left = deadline - (ContinuousClock.now - oldest)
            guard left > .zero else {
                let error = StoreError.unavailable(operation: "write", message: "no answer from the database within \(deadline)")
                for write in remaining { write.fail(error) }
                return
            }
            let current = lock.withLock { limits }
            let began = ContinuousClock.now
            let outcome = await transaction(remaining, limits: current, deadline: left)
            switch outcome {
            case .committed(let tx):
                lock.withLock {
                    commits += 1
                    writes += remaining.count
                }
                // Counted before the answers: a scrape after an answer counts what it answered.
                let took = (ContinuousClock.now - began).components
                metrics.recordCommit(nanos: UInt64(max(0, took.seconds)) * 1_000_000_000 + UInt64(max(0, took.attoseconds / 1_000_000_000)),
                                     writes: remaining.count)
                metrics.record(tx.metricEvents.committed,
                               at: tx.readClock ?? systemClock())
                beforeAnswers?(tx.nextRunAt, tx.addedWaiting)
                for write in remaining { write.deliver() }
                var settled = SettledJobs()
                settled.cancelled = tx.settledJobs
                settled.released = tx.released
                afterCommit?(tx.readyQueues, tx.finished, settled)
                return
            case .requestFailed(let index, .busy) where remaining[index].busyRetries < 3:
                // A deadlock or lock timeout with another node's transaction: the request runs again.
                remaining[index].busyRetries += 1
            case .requestFailed(let index, let error):
                remaining[index].fail(error)
                remaining.remove(at: index)
            case .failed(let error):
                for write in remaining { write.fail(error) }
                return
            }
        }
    }

    private enum Outcome: Sendable {
        case committed(PostgresTransaction)
        case requestFailed(Int, StoreError)
        case failed(StoreError)
    }

    private func transaction(_ writes: [any PostgresWrite], limits: (maxActiveJobs: Int, keys: [String: Int], rates: [String: SharedRateLimit]),
                             deadline: Duration) async -> Outcome {
        let node = self.node
        let logger = self.logger
        do {
            return try await PostgresStore.withDeadline(deadline, operation: "write") { [client] race async throws -> Outcome in
                try await client.withConnection { connection in
                    // Got a connection after the callers were told "unavailable": do nothing.
                    try race.check()
                    let session = PostgresSession(connection: connection, logger: logger)
                    let tx = PostgresTransaction(session: session, node: node, maxActiveJobs: limits.maxActiveJobs, keyLimits: limits.keys,
                                                 rateLimits: limits.rates)
                    try await session.run("begin", "BEGIN")
                    for (index, write) in writes.enumerated() {
                        do throws(StoreError) {
                            try await write.run(tx)
                            tx.requestSucceeded()
                        } catch {
                            _ = try? await session.run("rollback", "ROLLBACK")
                            if case .unavailable = error { throw error }
                            return .requestFailed(index, error)
                        }
                    }
                    do {
                        try await tx.writeCounts()
                        // Past the deadline the callers have their error: roll back rather than commit behind them.
                        try race.check()
                        try await session.run("commit", "COMMIT")
                    } catch {
                        _ = try? await session.run("rollback", "ROLLBACK")
                        throw error
                    }

                    return .committed(tx)
                }
            }
        } catch let error as StoreError {
            return .failed(error)
        } catch {
            return .failed(PostgresStore.storeError(error, operation: "write"))
        }
    }
}
