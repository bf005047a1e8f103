import JobCore

/// What the engine, the server and the HTTP side need of a job store, and
/// all they may use: SQLite (`JobStore`, the embedded default) and
/// PostgreSQL (`PostgresStore`, CLUSTER.md) implement it, and nothing
/// outside them asks which one it has.
///
/// Every write is answered only after its commit. Writes that the socket's
/// request path or the engine issue without awaiting take a `completion`,
/// run once the transaction committed (or failed); it must be quick and must
/// not write to the store and wait for that. Reads are `async` so that an
/// engine whose reads are network round trips does not block a thread.
public protocol JobStorage: AnyObject, Sendable {
    // MARK: Identity and tuning

    /// The name on the jobs this daemon claims (its run, or its cluster node).
    var leaseOwner: String { get }
    /// What `/metrics` counts of the writer and of each job event.
    var metrics: StoreMetrics { get }
    /// Commits, writes and WAL bytes since the store opened (`stats`).
    var writerCounters: WriterCounters { get }
    /// `jobqueue_build_info`'s label for the engine: ("sqlite", "3.40.1").
    var engineLabel: (name: String, version: String) { get }
    /// The additions to protocol version 1 this store serves (`ping`'s `features`).
    var features: [String] { get }
    /// This daemon's node name when it is one of a cluster (`ping`), else nil.
    var clusterNode: String? { get }
    /// Whether the database answered the latest request that tried it
    /// (`ping` reports it on a cluster node; a local file always does).
    var databaseReachable: Bool { get }
    /// `max_queued_jobs`; a config reload may change it.
    var maxActiveJobs: Int { get set }
    /// Each handler's `key_concurrency` (SCHEDULING.md); 1 for a handler not listed.
    var keyConcurrency: [String: Int] { get set }
    /// The configured rate limits, for a store whose database other
    /// daemons share (a cluster): it counts every daemon's starts against
    /// them. One daemon's own starts are the engine's to count.
    func shareRateLimits(_ limits: [String: SharedRateLimit])
    /// Called after a commit in which dependencies or concurrency keys
    /// changed other jobs than the request's own.
    var onSettled: (@Sendable (SettledJobs) -> Void)? { get set }

    /// The database's size on disk, and its write-ahead log's.
    func sizes() async -> StorageSizes
    /// Finishes every write already submitted and closes the store.
    func close()
    /// Awaits the writes already submitted (before `close()` at a stop):
    /// a store whose `close()` cannot wait without blocking a thread waits here.
    func drain() async
    /// A write round trip: returns only while the store takes writes.
    func checkWriter() async throws(StoreError)
    /// Commits the deferred writes now: a client has started to wait for one.
    func expediteDeferredWrites()
    /// The same reads answered on the caller's thread, when the store can.
    var localReads: (any LocalJobReads)? { get }

    // MARK: Jobs

    /// Stores a new job (or answers with the unfinished job holding its `unique_key`).
    func enqueue(_ job: NewJob, completion: @escaping @Sendable (Result<EnqueueOutcome, StoreError>) -> Void)
    /// Stores a job and, in the same transaction, claims like `claim(_:)`.
    func enqueueAndClaim(_ job: NewJob, _ request: ClaimRequest,
                         completion: @escaping @Sendable (Result<EnqueueAndClaim, StoreError>) -> Void)
    /// Stores every job, or none of them when one fails.
    func enqueueBatch(_ jobs: [NewJob], completion: @escaping @Sendable (Result<BatchEnqueueOutcome, StoreError>) -> Void)
    /// Marks up to `request.maxJobs` ready jobs `running` under this lease owner and returns them.
    func claim(_ request: ClaimRequest) async throws(StoreError) -> [Job]
    /// A job claimed ahead has started (not awaited; rides in a later commit).
    func recordStart(_ id: JobID, attempt: Int, at start: Timestamp)
    /// Puts jobs claimed ahead that never started back to `queued`.
    @discardableResult
    func releaseUnstarted(_ jobs: [(id: JobID, attempt: Int)]) async throws(StoreError) -> Int
    /// Records the success of attempt `attempt`; nil when the job no longer runs that attempt.
    func complete(_ id: JobID, attempt: Int, result: RawJSON?, resultTruncated: Bool, deferrable: Bool,
                  completion: @escaping @Sendable (Result<Job?, StoreError>) -> Void)
    /// Records the failure of attempt `attempt`; nil when the job no longer runs that attempt.
    func fail(_ id: JobID, attempt: Int, failure: JobFailure, disposition: FailureDisposition, deferrable: Bool,
              completion: @escaping @Sendable (Result<Job?, StoreError>) -> Void)
    func cancel(_ id: JobID) async throws(StoreError) -> CancelOutcome
    func retry(_ id: JobID, isExternal: @escaping @Sendable (String) -> Bool) async throws(StoreError) -> Job
    @discardableResult
    func pause(queue: String) async throws(StoreError) -> Bool
    @discardableResult
    func resume(queue: String) async throws(StoreError) -> Bool
    /// Moves due `scheduled`/`retrying` jobs to `queued`, at most `limit`.
    @discardableResult
    func promoteDue(limit: Int) async throws(StoreError) -> Int
    /// Deletes finished jobs older than their retention, at most `batchSize` per state.
    func prune(retentionMs: [JobState: Int64], batchSize: Int) async throws(StoreError) -> Int
    /// At start-up: jobs an earlier run left `running` become interrupted attempts.
    func recoverInterrupted(retryDelayMs: @escaping @Sendable (Job) -> Int64) async throws(StoreError) -> [Job]
    /// Lets held jobs in wherever their key has room.
    @discardableResult
    func releaseHeldKeys() async throws(StoreError) -> Int

    // MARK: External workers (WORKERS.md)

    func reserve(_ reservations: [Reservation], freeSlots: @escaping (String) -> Int, startsLeft: @escaping (String) -> Int?,
                 leaseMs: @escaping (String) -> Int64, token: @escaping () -> String, reserved: @escaping ([Job]) -> Void,
                 completion: @escaping @Sendable (Result<[[Job]], StoreError>) -> Void)
    func heartbeat(_ id: JobID, token: String, leaseMs: Int64?, progress: RawJSON?,
                   completion: @escaping @Sendable (Result<Result<HeartbeatOutcome, LeaseLost>, StoreError>) -> Void)
    func complete(_ id: JobID, token: String, result: RawJSON?, resultTruncated: Bool,
                  completion: @escaping @Sendable (Result<Result<Job, LeaseLost>, StoreError>) -> Void)
    func fail(_ id: JobID, token: String, failure: JobFailure, disposition: FailureDisposition,
              completion: @escaping @Sendable (Result<Result<Job, LeaseLost>, StoreError>) -> Void)
    func expire(_ id: JobID, token: String, failure: JobFailure, retryAfterMs: Int64) async throws(StoreError) -> Job?
    func heldLeases() async throws(StoreError) -> [Job]
    @discardableResult
    func setExternalHandlers(_ names: [String]) async throws(StoreError) -> Int

    // MARK: Schedules (SCHEDULING.md)

    func syncSchedules(_ definitions: [String: String]) async throws(StoreError) -> [ScheduleRow]
    func fireSchedule(_ name: String, expectingLastTick lastTick: Timestamp, ticks: [Timestamp], through throughTick: Timestamp,
                      job: NewJob, skipOverlap: Bool) async throws(StoreError) -> ScheduleFiring
    func triggerSchedule(_ name: String, job: NewJob) async throws(StoreError) -> (ScheduleRow, EnqueueOutcome)?
    func setSchedulePaused(_ name: String, _ paused: Bool) async throws(StoreError) -> ScheduleRow?
    func scheduleRows() async throws(StoreError) -> [ScheduleRow]

    // MARK: Reads

    func get(_ id: JobID) async throws(StoreError) -> Job?
    func list(_ filter: ListFilter) async throws(StoreError) -> JobPage
    func stats() async throws(StoreError) -> [String: QueueStats]
    func isPaused(queue: String) async throws(StoreError) -> Bool
    /// The earliest `run_at` of a waiting job: the engine's timer.
    func nextWakeTime() async throws(StoreError) -> Timestamp?
    /// Whether a claim may find a job (a read that saves empty transactions).
    func mayClaim(_ request: ClaimRequest, now: Timestamp) async throws(StoreError) -> Bool
    func mayReserve(handlers: Set<String>, now: Timestamp, freeSlots: (String) -> Int) async throws(StoreError) -> Bool
    func queuesWithOwnReadyJobs(among queues: Set<String>) async throws(StoreError) -> Set<String>
    /// Each queue's oldest due, unstarted job (`/metrics`).
    func oldestDue(now: Timestamp) async throws(StoreError) -> [String: Timestamp]
}

/// A rate limit (SCHEDULING.md) of a handler or a queue: at most `count`
/// starts in any window of `perMs`. A store shares them by `key(handler:)`
/// and `key(queue:)` (`shareRateLimits`); the config's `RateLimit` is this.
public struct SharedRateLimit: Hashable, Sendable {
    public var count: Int
    public var perMs: Int64

    public init(count: Int, perMs: Int64) {
        self.count = count
        self.perMs = perMs
    }

    public static func key(handler: String) -> String { "handler:" + handler }
    public static func key(queue: String) -> String { "queue:" + queue }
    /// The handler a key names, if it names one.
    public static func handler(_ key: String) -> String? { key.hasPrefix("handler:") ? String(key.dropFirst(8)) : nil }
    public static func queue(_ key: String) -> String? { key.hasPrefix("queue:") ? String(key.dropFirst(6)) : nil }
}

/// The bytes a store takes on disk (`/metrics`).
public struct StorageSizes: Hashable, Sendable {
    public var databaseBytes: Int64
    public var walBytes: Int64

    public init(databaseBytes: Int64, walBytes: Int64) {
        self.databaseBytes = databaseBytes
        self.walBytes = walBytes
    }
}

// Awaiting forms of the writes taken with a completion, and the usual arguments.
extension JobStorage {
    /// SQLite's `close()` drains its writer thread itself.
    public func drain() async {}

    public var databaseReachable: Bool { true }

    /// One daemon per database: the engine's own windows are exact.
    public func shareRateLimits(_ limits: [String: SharedRateLimit]) {}

    @discardableResult
    public func promoteDue() async throws(StoreError) -> Int {
        try await promoteDue(limit: 1000)
    }

    public func enqueue(_ job: NewJob) async throws(StoreError) -> EnqueueOutcome {
        try await awaitingStore { enqueue(job, completion: $0) }
    }

    public func enqueueAndClaim(_ job: NewJob, _ request: ClaimRequest) async throws(StoreError) -> EnqueueAndClaim {
        try await awaitingStore { enqueueAndClaim(job, request, completion: $0) }
    }

    public func enqueueBatch(_ jobs: [NewJob]) async throws(StoreError) -> BatchEnqueueOutcome {
        try await awaitingStore { enqueueBatch(jobs, completion: $0) }
    }

    /// `deferrable`: no client waits for this job (it may ride a later commit).
    public func complete(_ id: JobID, attempt: Int, result: RawJSON?, resultTruncated: Bool = false,
                         deferrable: Bool = false) async throws(StoreError) -> Job? {
        try await awaitingStore {
            complete(id, attempt: attempt, result: result, resultTruncated: resultTruncated, deferrable: deferrable, completion: $0)
        }
    }

    public func fail(_ id: JobID, attempt: Int, failure: JobFailure, disposition: FailureDisposition,
                     deferrable: Bool = false) async throws(StoreError) -> Job? {
        try await awaitingStore { fail(id, attempt: attempt, failure: failure, disposition: disposition, deferrable: deferrable, completion: $0) }
    }
}

/// Awaits a store call started with a completion handler.
func awaitingStore<T: Sendable>(_ start: (@escaping @Sendable (Result<T, StoreError>) -> Void) -> Void) async throws(StoreError) -> T {
    let result = await withCheckedContinuation { continuation in start { continuation.resume(returning: $0) } }
    return try result.get()
}

/// The reads a store answers at once on the caller's thread, because its
/// database is a local file (SQLite): the socket then answers `get` and
/// `stats` without a task of its own (~10 µs and a context switch saved per
/// request, performance.md). A store whose reads are round trips has none.
public protocol LocalJobReads: Sendable {
    func get(_ id: JobID) throws(StoreError) -> Job?
    func stats() throws(StoreError) -> [String: QueueStats]
    func isPaused(queue: String) throws(StoreError) -> Bool
}
