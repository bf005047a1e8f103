import Foundation
import JobCore
import JobStore
import Logging
import NIOSSL
import PostgresNIO
import Synchronization

/// The job store on PostgreSQL (CLUSTER.md): several daemons ("nodes") share
/// one database. Writes go through group commit (`PostgresWriter`), reads
/// through the pool; a node's running jobs hold its lease (`nodes`), which
/// a background task renews every lease / 3; jobs of a node whose lease ran
/// out are rescued by the others.
public final class PostgresStore: JobStorage, @unchecked Sendable {
    public let options: PostgresOptions
    let client: PostgresClient
    let logger: Logger
    let writer: PostgresWriter
    private let clientTask: Task<Void, Never>
    private let lock = NSLock()
    // Guarded by `lock`:
    private var settledHandler: (@Sendable (SettledJobs) -> Void)?
    private var serverVersion = ""

    /// The node's standing in the cluster (PostgresStore+Cluster.swift).
    struct ClusterState {
        /// When the latest renewal that succeeded was sent (monotonic).
        var renewedAt: ContinuousClock.Instant?
        /// This node's term while it leads.
        var leaderTerm: Int64?
        /// The backoff of a rescued job's handler (given by the engine at start-up).
        var rescueDelay: (@Sendable (Job) -> Int64)?
        var tasks: [Task<Void, Never>] = []
        /// Wake-ups for the other nodes not sent yet, and whether a sender runs.
        var unsentReady: Set<String> = []
        var unsentFinished: [JobID] = []
        var sending = false
        /// The latest request that tried the database got through (or failed with something else than `unavailable`).
        var reachable = true
        /// The lease's loss was told to the engine (reset by a renewal).
        var lossReported = false
        /// The earliest `run_at` of a waiting job as the latest claim read
        /// it (`.some(nil)`: none); nil: unknown, read it (`nextWakeTime`).
        var nextRunAt: Timestamp??
    }
    let lease = Mutex(ClusterState())

    public let metrics = StoreMetrics()
    public var leaseOwner: String { options.nodeName }
    public var localReads: (any LocalJobReads)? { nil }
    public var features: [String] { ["workers", "schedules", "dependencies", "limits", "cluster"] }
    public var clusterNode: String? { options.nodeName }
    public var databaseReachable: Bool { lease.withLock { $0.reachable } }

    /// Notes whether a request got through to the database (`ping`).
    func noteReachability<T>(_ result: Result<T, StoreError>) {
        let reachable: Bool
        if case .failure(.unavailable) = result { reachable = false } else { reachable = true }
        lease.withLock { $0.reachable = reachable }
    }
    public var engineLabel: (name: String, version: String) { ("postgres", lock.withLock { serverVersion }) }

    private init(options: PostgresOptions, client: PostgresClient, clientTask: Task<Void, Never>, logger: Logger) {
        self.options = options
        self.client = client
        self.clientTask = clientTask
        self.logger = logger
        writer = PostgresWriter(client: client, logger: logger, node: options.nodeName,
                                maxWrites: options.maxWritesPerTransaction, maxActiveJobs: options.maxActiveJobs,
                                deadline: .milliseconds(options.requestTimeoutMs), metrics: metrics)
    }

    /// Connects, migrates (refusing a newer schema), registers this node and
    /// starts renewing its lease.
    public static func open(_ options: PostgresOptions, logger: Logger) async throws(StoreError) -> PostgresStore {
        let configuration = try options.clientConfiguration()
        let client = PostgresClient(configuration: configuration, backgroundLogger: Logger(label: "jobqueue.postgres.pool") { _ in
            SwiftLogNoOpLogHandler()
        })
        try await probe(options, logger: logger)
        let clientTask = Task { await client.run() }
        let store = PostgresStore(options: options, client: client, clientTask: clientTask, logger: logger)
        do {
            try await store.withSession("connect", deadline: .seconds(60)) { session throws(StoreError) in
                let version = try await session.firstRow("server version", "SHOW server_version") { try $0[0].decode(String.self) }
                store.lock.withLock { store.serverVersion = version ?? "" }
                try await PostgresMigrator(migrations: options.migrations).migrate(session, url: options.redactedURL)
                try await store.registerNode(session)
            }
        } catch {
            clientTask.cancel()
            throw error.asOpenError(url: options.redactedURL)
        }
        store.writer.beforeAnswers = { [weak store] next, addedWaiting in store?.noteNextRunAt(next, addedWaiting: addedWaiting) }
        let notify = options.notify
        store.writer.afterCommit = { [weak store] ready, finished, settled in
            guard let store else { return }
            if notify { store.committed(ready: ready, finished: finished) }
            if !settled.isEmpty { store.onSettled?(settled) }
        }
        store.startBackground()
        return store
    }

    /// One connection of its own first: the pool retries every failure
    /// quietly, so a wrong password, `pg_hba.conf` line or certificate
    /// would look like an outage for a minute. A server that refuses or
    /// does not answer yet (it may be starting too) gets that minute; one
    /// that answers with a refusal is a clear error at once.
    static func probe(_ options: PostgresOptions, logger: Logger) async throws(StoreError) {
        let configuration = try options.connectionConfiguration()
        let giveUp = ContinuousClock.now + .seconds(60)
        while true {
            do {
                let connection = try await PostgresConnection.connect(configuration: configuration, id: 0, logger: logger)
                try? await connection.close()
                return
            } catch {
                let psql = error as? PSQLError
                // 57P03: "the database system is starting up", as good as no answer yet.
                let starting = psql?.serverInfo?[.sqlState] == "57P03"
                let refused = !starting && (psql?.code == .server || psql?.code == .sslUnsupported || psql?.underlying is NIOSSLError)
                if !refused && ContinuousClock.now < giveUp {
                    try? await Task.sleep(for: .milliseconds(500))
                    continue
                }
                let message = psql?.serverInfo?[.message] ?? psql.map { "\($0.code)" + ($0.underlying.map { ": \($0)" } ?? "") } ?? "\(error)"
                throw .cannotOpen(path: options.redactedURL, message: message)
            }
        }
    }

    /// Applies the pending migrations and disconnects (`jobqueued migrate`): no node joins.
    public static func migrate(_ options: PostgresOptions, logger: Logger) async throws(StoreError) {
        try await probe(options, logger: logger)
        let client = PostgresClient(configuration: try options.clientConfiguration(), backgroundLogger: Logger(label: "jobqueue.postgres.pool") { _ in
            SwiftLogNoOpLogHandler()
        })
        let clientTask = Task { await client.run() }
        defer { clientTask.cancel() }
        let store = PostgresStore(options: options, client: client, clientTask: clientTask, logger: logger)
        do {
            try await store.withSession("migrate", deadline: .seconds(60)) { session throws(StoreError) in
                try await PostgresMigrator(migrations: options.migrations).migrate(session, url: options.redactedURL)
            }
        } catch {
            throw error.asOpenError(url: options.redactedURL)
        }
    }

    /// The writes submitted so far, committed (or failed); then the node
    /// leaves (its lease ends now, not at its expiry, and so does its lead:
    /// another node takes over at its next election). The daemon awaits
    /// this at a stop, before `close()`.
    public func drain() async {
        stopBackground()  // no renewal, election or rescue after this: the writer is closing
        await writer.close()
        _ = try? await client.withConnection { [logger, options] connection in
            let session = PostgresSession(connection: connection, logger: logger)
            try await session.run("leave", "UPDATE nodes SET expires_at = jq_now() WHERE name = $1 RETURNING 1", [.text(options.nodeName)])
            try await session.run("leave", "UPDATE leader SET expires_at = jq_now() WHERE node = $1 RETURNING 1", [.text(options.nodeName)])
        }
    }

    /// Stops the node's background work, then drains and closes the pool in
    /// a task. Returns at once: waiting here would block a thread of the
    /// cooperative pool that the cleanup itself may need.
    public func close() {
        stopBackground()
        Task { [clientTask] in
            await self.drain()
            clientTask.cancel()
        }
    }

    // MARK: - JobStorage tuning

    public var writerCounters: WriterCounters {
        let (commits, writes) = writer.counters
        return WriterCounters(commits: commits, writes: writes, walBytes: 0, pageSize: 0)
    }

    public var maxActiveJobs: Int {
        get { writer.maxActiveJobs }
        set { writer.maxActiveJobs = newValue }
    }

    public var keyConcurrency: [String: Int] {
        get { writer.keyLimits }
        set { writer.keyLimits = newValue }
    }

    public func shareRateLimits(_ limits: [String: SharedRateLimit]) {
        writer.rateLimits = limits
    }

    public var onSettled: (@Sendable (SettledJobs) -> Void)? {
        get { lock.withLock { settledHandler } }
        set { lock.withLock { settledHandler = newValue } }
    }

    public func sizes() async -> StorageSizes {
        let bytes = try? await withSession("database size") { session throws(StoreError) in
            try await session.firstRow("database size", "SELECT pg_database_size(current_database())") { try $0[0].decode(Int64.self) }
        }
        return StorageSizes(databaseBytes: (bytes ?? nil) ?? 0, walBytes: 0)
    }

    public func checkWriter() async throws(StoreError) {
        _ = try await perform { _ throws(StoreError) in true }
    }

    public func expediteDeferredWrites() {}  // no write is deferred here

    // MARK: - Plumbing

    /// Runs `body` in the next group-commit transaction; answers after COMMIT.
    func perform<T: Sendable>(_ body: @escaping (PostgresTransaction) async throws(StoreError) -> T,
                              completion: @escaping @Sendable (Result<T, StoreError>) -> Void) {
        writer.submit(TypedPostgresWrite(body) { [weak self] result in
            self?.noteReachability(result)
            completion(result)
        })
    }

    func perform<T: Sendable>(_ body: @escaping (PostgresTransaction) async throws(StoreError) -> T) async throws(StoreError) -> T {
        let result = await withCheckedContinuation { continuation in
            perform(body) { continuation.resume(returning: $0) }
        }
        return try result.get()
    }

    /// One pooled connection, outside any transaction (reads, the node's lease).
    /// `deadline`: 5 s for a request (CLUSTER.md); opening (migrations) may take longer.
    func withSession<T: Sendable>(_ operation: String, deadline: Duration? = nil,
                                  _ body: @escaping @Sendable (PostgresSession) async throws(StoreError) -> T) async throws(StoreError) -> T {
        let logger = self.logger
        let result: Result<T, StoreError>
        do {
            result = .success(try await Self.withDeadline(deadline ?? .milliseconds(options.requestTimeoutMs), operation: operation) { [client] deadline in
                try await client.withConnection { connection in
                    try deadline.check()
                    return try await body(PostgresSession(connection: connection, logger: logger))
                }
            })
        } catch let error as StoreError {
            result = .failure(error)
        } catch {
            result = .failure(Self.storeError(error, operation: operation))
        }
        noteReachability(result)
        return try result.get()
    }

    /// `body`, or `unavailable` once `deadline` has passed. Not a task
    /// group: a group waits for its children, and postgres-nio waits for a
    /// connection to an unreachable server as long as it is let (#489),
    /// cancelled or not. The work goes on in its own task; `Deadline` tells
    /// it that its caller has been answered, so that it starts nothing (and
    /// commits nothing) once it gets a connection late.
    static func withDeadline<T: Sendable>(_ deadline: Duration, operation: String,
                                          _ body: @escaping @Sendable (Deadline) async throws -> T) async throws -> T {
        let race = Deadline()
        return try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
            race.continuation = { result in continuation.resume(with: result.map { $0 as! T }) }
            let work = Task {
                do {
                    let value = try await body(race)
                    race.finish(.success(value))
                } catch {
                    race.finish(Result<T, any Error>.failure(error))
                }
            }
            Task {
                try? await Task.sleep(for: deadline)
                if race.finish(Result<T, any Error>.failure(StoreError.unavailable(operation: operation, message: "no answer from the database within \(deadline)"))) {
                    work.cancel()
                }
            }
        }
    }

    /// A postgres-nio error as a store error.
    static func storeError(_ error: any Error, operation: String) -> StoreError {
        if let error = error as? StoreError { return error }
        guard let error = error as? PSQLError else {
            return .unavailable(operation: operation, message: "\(error)")
        }
        switch error.code {
        case .server:
            let state = error.serverInfo?[.sqlState] ?? ""
            let message = error.serverInfo?[.message] ?? "\(error)"
            if state.hasPrefix("08") || state.hasPrefix("57P") { return .unavailable(operation: operation, message: message) }
            if state == "40001" || state == "40P01" || state == "55P03" { return .busy(operation: operation) }
            if state.hasPrefix("53") { return .storage(operation: operation, message: message) }
            return .internalError(operation: operation, message: "\(message) (SQLSTATE \(state))")
        case .connectionError, .serverClosedConnection, .clientClosedConnection, .uncleanShutdown, .poolClosed, .queryCancelled:
            return .unavailable(operation: operation, message: "\(error.code)")
        default:
            return .internalError(operation: operation, message: "\(error)")
        }
    }
}

extension StoreError {
    /// An error met while opening, as the daemon reports it (exit 78 for a newer schema).
    fileprivate func asOpenError(url: String) -> StoreError {
        switch self {
        case .schemaTooNew, .migrationFailed, .cannotOpen: self
        default: .cannotOpen(path: url, message: description)
        }
    }
}

/// The race between a database call and its deadline: the first to finish
/// answers the caller; the work asks `check()` before it starts or commits.
final class Deadline: @unchecked Sendable {
    private let lock = NSLock()
    private var answered = false
    var continuation: ((Result<any Sendable, any Error>) -> Void)?

    /// Answers the caller unless somebody did; true if this call did.
    @discardableResult
    func finish<T: Sendable>(_ result: Result<T, any Error>) -> Bool {
        lock.lock()
        guard !answered, let resume = continuation else {
            lock.unlock()
            return false
        }
        answered = true
        continuation = nil
        lock.unlock()
        resume(result.map { $0 as any Sendable })
        return true
    }

    /// Throws once the caller has been answered (the deadline passed).
    func check() throws {
        if lock.withLock({ answered }) { throw CancellationError() }
    }
}
