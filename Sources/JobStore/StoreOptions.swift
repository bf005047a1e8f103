import Foundation
import JobCore

/// How the store opens and treats its database.
public struct StoreOptions: Sendable {
    /// What an acknowledged write survives.
    public enum Durability: String, Sendable, CaseIterable {
        /// `synchronous=FULL`: fsync before every acknowledgement; survives a power cut.
        case full
        /// `synchronous=NORMAL`: survives a crash of the daemon, not of the machine.
        case normal
    }

    /// The database file; its folder must exist.
    public var path: String
    public var durability: Durability = .full
    /// How long a write waits for another process's lock before it fails.
    public var busyTimeoutMs: Int32 = 5000
    /// The most write requests that share one transaction.
    public var maxWritesPerTransaction = 4096
    /// How long a write that nobody is waiting on (a job's end that no
    /// client waits for) may wait to share the next transaction, at least.
    /// 0 with `deferralCommits` 0: never.
    public var deferralWindowMicroseconds: UInt64 = 1000
    /// ... and as long as this many commits take, on the recent average
    /// (a slow disk makes company worth waiting for),
    public var deferralCommits = 4
    /// ... but never longer than this.
    public var maxDeferralMicroseconds: UInt64 = 10_000
    /// The page size of a database this store creates. Every page a commit
    /// changes is written to the WAL whole, and an enqueue changes about 5
    /// (the row, 2 index leaves, `job_counts`, `sqlite_sequence`): with 1 KiB
    /// pages a commit writes ~5 KiB instead of ~22 KiB (performance.md).
    public var pageSize = 1024
    /// The WAL size after which the writer checkpoints between transactions.
    /// A checkpoint costs about three fsyncs whatever its size (the WAL, the
    /// database, the WAL's header when it starts again): with 1 KiB pages an
    /// enqueue appends ~8 KiB, so 1,000 frames (SQLite's default) meant a
    /// checkpoint every ~120 enqueues, +0.025 fsyncs per job; 4 MiB, +0.006.
    public var checkpointAfterWALBytes = 4 << 20
    /// The most read connections kept open when idle.
    public var maxIdleReaders = 8
    /// `max_queued_jobs`: enqueue fails with `overloaded` while this many jobs are not terminal.
    public var maxActiveJobs = StoreOptions.defaultMaxActiveJobs
    /// `max_queued_jobs`' default (DAEMON.md), which every engine and the config share.
    public static let defaultMaxActiveJobs = 10_000_000
    /// This daemon run's name in the lease of the jobs it runs.
    public var leaseOwner: String = "run-" + UUID().uuidString.lowercased()
    /// The clock. Read once per transaction; tests inject their own.
    public var clock: @Sendable () -> Timestamp = systemClock
    /// The schema; tests may pass others.
    public var migrations: [Migration] = Migration.all

    public init(path: String) {
        self.path = path
    }
}

/// The wall clock, to the millisecond.
public let systemClock: @Sendable () -> Timestamp = {
    var spec = timespec()
    clock_gettime(CLOCK_REALTIME, &spec)
    return Timestamp(millisecondsSinceEpoch: Int64(spec.tv_sec) * 1000 + Int64(spec.tv_nsec) / 1_000_000)
}
