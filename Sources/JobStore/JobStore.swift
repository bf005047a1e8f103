import CSQLite
import Glibc
import JobCore

/// The job store: one SQLite database, one writer thread doing group commit,
/// and a pool of readers. Every write is answered only after its COMMIT.
public final class JobStore: Sendable {
    public let options: StoreOptions
    private let writer: GroupCommitWriter
    private let readers: ReaderPool

    /// This run's lease owner: the name on the jobs it claims.
    public var leaseOwner: String { options.leaseOwner }

    private init(options: StoreOptions, writer: GroupCommitWriter, readers: ReaderPool) {
        self.options = options
        self.writer = writer
        self.readers = readers
    }

    /// Opens (creating if needed) and migrates the database, then starts the writer.
    /// A database newer than this binary is refused before anything is written to it.
    public static func open(_ options: StoreOptions) throws(StoreError) -> JobStore {
        let connection: SQLiteConnection
        do {
            connection = try SQLiteConnection(path: options.path, mode: .readWrite)
        } catch {
            throw .cannotOpen(path: options.path, message: error.message)
        }
        // SQLite opens a file it may not write read-only without a word;
        // every write would then fail. Refuse it at start instead.
        if sqlite3_db_readonly(connection.handle, "main") == 1 {
            throw .cannotOpen(path: options.path, message: "the file is read-only for this user (uid \(getuid())); jobqueued needs to write it")
        }
        sqlite3_busy_timeout(connection.handle, options.busyTimeoutMs)
        let migrator = Migrator(migrations: options.migrations)
        try migrator.checkNotNewer(connection)
        try configure(connection, options)
        try migrator.migrate(connection, now: options.clock().rawValue)

        let writer = GroupCommitWriter(connection: connection, options: options)
        writer.start()
        return JobStore(options: options, writer: writer, readers: ReaderPool(path: options.path, maxIdle: options.maxIdleReaders))
    }

    private static func configure(_ connection: SQLiteConnection, _ options: StoreOptions) throws(StoreError) {
        try StoreError.wrap("configure \(options.path)") { () throws(SQLiteError) in
            // A new file only: the page size of a database with pages is fixed
            // (in WAL mode even VACUUM keeps it).
            let pages = try connection.prepared("PRAGMA page_count")
            let isNew = try pages.step() && pages.int(0) == 0
            pages.reset()  // before the pragma: an open read would keep the old size
            if isNew { try connection.execute("PRAGMA page_size = \(options.pageSize)") }
            let mode = try connection.prepared("PRAGMA journal_mode = WAL")
            guard try mode.step(), mode.text(0).lowercased() == "wal" else {
                throw SQLiteError(code: SQLITE_ERROR, extendedCode: SQLITE_ERROR,
                                  message: "the database refused WAL mode", context: "PRAGMA journal_mode")
            }
            mode.reset()
            try connection.execute("""
                PRAGMA synchronous = \(options.durability == .full ? "FULL" : "NORMAL");
                PRAGMA mmap_size = 0;
                PRAGMA temp_store = MEMORY;
                PRAGMA cache_size = -16384;
                """)
        }
    }

    /// Finishes every write already submitted, checkpoints, and closes the
    /// database. Later calls fail with `StoreError.closed`.
    public func close() {
        writer.stop()
        readers.close()
    }

    /// The SQLite library in use (log it at start-up).
    public static var sqliteVersion: String { sqliteLibraryVersion }

    // MARK: - Writes

    /// Runs `body` in the next group-commit transaction and returns its
    /// value once that transaction has committed.
    /// `writesOneStatement`: the body writes with at most one statement, so
    /// it needs no savepoint of its own (a failed statement undoes itself).
    /// `deferrable`: no client waits for it, so it may wait for the next
    /// transaction (`StoreOptions.deferralWindowMicroseconds`).
    func perform<T: Sendable>(
        writesOneStatement: Bool = false,
        deferrable: Bool = false,
        _ body: @escaping (WriteTransaction) throws(StoreError) -> T
    ) async throws(StoreError) -> T {
        try await awaiting { perform(writesOneStatement: writesOneStatement, deferrable: deferrable, body, completion: $0) }
    }

    /// Awaits a write started with a completion handler.
    func awaiting<T: Sendable>(_ start: (@escaping @Sendable (Result<T, StoreError>) -> Void) -> Void) async throws(StoreError) -> T {
        let result = await withCheckedContinuation { continuation in start { continuation.resume(returning: $0) } }
        return try result.get()
    }

    /// The same for a caller that does not await: `completion` runs on the
    /// writer thread once the transaction has committed (or failed), so it
    /// must be quick and must not write to the store and wait for that.
    func perform<T: Sendable>(
        writesOneStatement: Bool = false,
        deferrable: Bool = false,
        _ body: @escaping (WriteTransaction) throws(StoreError) -> T,
        completion: @escaping @Sendable (Result<T, StoreError>) -> Void
    ) {
        writer.submit(TypedWrite(writesOneStatement: writesOneStatement, body: body, deliver: completion), deferrable: deferrable)
    }

    /// Commits the deferred writes without waiting out their window: a
    /// client has started to wait for one of them.
    public func expediteDeferredWrites() {
        writer.expediteDeferred()
    }

    /// Commits, writes and WAL bytes since the store opened.
    public var writerCounters: WriterCounters { writer.counters }
    /// What `/metrics` shows of the writer and of each job event.
    public var metrics: StoreMetrics { writer.metrics }

    /// Each handler's `key_concurrency` (SCHEDULING.md); 1 for a handler not listed.
    public var keyConcurrency: [String: Int] {
        get { writer.keyConcurrency }
        set { writer.keyConcurrency = newValue }
    }

    /// Called after a commit in which dependencies or concurrency keys
    /// changed other jobs: blocked jobs cancelled by a failed dependency
    /// (their waiters must hear of it), jobs unblocked or let in by their key.
    public var onSettled: (@Sendable (SettledJobs) -> Void)? {
        get { writer.onSettled }
        set { writer.onSettled = newValue }
    }

    var writerMaxActiveJobs: Int {
        get { writer.maxActiveJobs }
        set { writer.maxActiveJobs = newValue }
    }

    // MARK: - Reads

    func read<T>(_ operation: String, _ body: (SQLiteConnection) throws(StoreError) -> T) throws(StoreError) -> T {
        try readers.read(operation, body)
    }
}

extension JobStore: JobStorage, LocalJobReads {
    public var localReads: (any LocalJobReads)? { self }

    public var engineLabel: (name: String, version: String) { ("sqlite", Self.sqliteVersion) }
    public var features: [String] { ["workers", "schedules", "dependencies", "limits"] }
    public var clusterNode: String? { nil }

    public func sizes() async -> StorageSizes {
        StorageSizes(databaseBytes: Self.fileSize(options.path), walBytes: Self.fileSize(options.path + "-wal"))
    }

    private static func fileSize(_ path: String) -> Int64 {
        var info = stat()
        return stat(path, &info) == 0 ? Int64(info.st_size) : 0
    }
}
