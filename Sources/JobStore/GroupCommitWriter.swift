import CSQLite
import Foundation
import JobCore
import Synchronization

/// The one connection that writes, owned by one thread, doing group commit:
/// every request waiting when the thread is free goes into one
/// `BEGIN IMMEDIATE … COMMIT` (one fsync), then every caller is answered.
/// While a commit is being synced, new requests gather for the next one.
///
/// A write submitted as *deferrable* (no one waits for it: the end of a job
/// no client waits on) does not start a transaction by itself for a while:
/// it rides in the next transaction that another write starts, which saves
/// that job an fsync of its own. The while is as long as a few commits take
/// (`deferralCommits` × the moving average of the last commits), never
/// shorter than `deferralWindowMicroseconds` nor longer than
/// `maxDeferralMicroseconds`: on a disk whose flush is slow, ends wait longer
/// for company, because each commit they share saves more. Its caller learns
/// of it only after the commit, as for any write.
///
/// Checkpoints run on this thread too, between transactions and after the
/// callers were answered, so no acknowledgement waits for one.
final class GroupCommitWriter: @unchecked Sendable {
    private let connection: SQLiteConnection
    private let options: StoreOptions
    private let condition = NSCondition()
    // Guarded by `condition`:
    private var pending: [Queued] = []
    private var deferred: [Queued] = []
    /// Numbers the writes as submitted: a batch keeps that order across
    /// both lists (a job's start must not commit after its end).
    private var submitted: UInt64 = 0
    /// When the oldest of `deferred` was submitted (uptime, ns).
    private var oldestDeferredAt: UInt64 = 0
    /// Someone now waits for a deferrable write: commit them without delay.
    private var expedite = false
    private var stopping = false
    private var stopped = false
    private var maxActiveJobsSetting: Int
    private var keyConcurrencySetting: [String: Int] = [:]
    private var settledHandler: (@Sendable (SettledJobs) -> Void)?
    /// Set with `pending`, read without the lock while the writer spins.
    private let hasPending = Atomic<Bool>(false)

    /// How long the last commits took, BEGIN to COMMIT (ns, a moving average).
    private var averageCommitNanos: Double = 0

    /// WAL frames written since the last checkpoint, set by the WAL hook
    /// (on this thread, inside COMMIT).
    fileprivate var walFrames: Int32 = 0
    /// The WAL's length in frames after the last commit (the hook's own view).
    fileprivate var walLength: Int32 = 0
    /// What this writer has done since it started, for `stats`.
    private let commits = Atomic<Int>(0)
    private let writes = Atomic<Int>(0)
    private let walFramesAppended = Atomic<Int>(0)
    private let pageSize: Int
    /// What `/metrics` shows: recorded here after each commit.
    let metrics = StoreMetrics()
    /// The current transaction's metric events (this thread only).
    private let metricEvents = MetricEventBuffer()

    init(connection: SQLiteConnection, options: StoreOptions) {
        self.connection = connection
        self.options = options
        self.maxActiveJobsSetting = options.maxActiveJobs
        self.pageSize = Int((try? connection.firstRow("read page_size", "PRAGMA page_size") { $0.int(0) }) ?? 4096)
        // Replaces SQLite's automatic checkpoint, which would run inside the
        // COMMIT of a caller and add its cost to that caller's answer.
        sqlite3_wal_hook(connection.handle, { context, _, _, frames in
            let writer = Unmanaged<GroupCommitWriter>.fromOpaque(context!).takeUnretainedValue()
            // `frames` is the WAL's length: it starts again from 0 after a checkpoint.
            let appended = frames >= writer.walLength ? frames - writer.walLength : frames
            writer.walFramesAppended.add(Int(appended), ordering: .relaxed)
            writer.walLength = frames
            writer.walFrames = frames
            return SQLITE_OK
        }, Unmanaged.passUnretained(self).toOpaque())
    }

    func start() {
        Thread { [self] in run() }.start()
    }

    /// `max_queued_jobs`, changeable while running (a config reload).
    var maxActiveJobs: Int {
        get { condition.lock(); defer { condition.unlock() }; return maxActiveJobsSetting }
        set { condition.lock(); maxActiveJobsSetting = newValue; condition.unlock() }
    }

    /// Each handler's `key_concurrency`, changeable while running.
    var keyConcurrency: [String: Int] {
        get { condition.lock(); defer { condition.unlock() }; return keyConcurrencySetting }
        set { condition.lock(); keyConcurrencySetting = newValue; condition.unlock() }
    }

    /// Called on this thread after a commit whose dependencies or keys
    /// changed jobs besides the requests' own.
    var onSettled: (@Sendable (SettledJobs) -> Void)? {
        get { condition.lock(); defer { condition.unlock() }; return settledHandler }
        set { condition.lock(); settledHandler = newValue; condition.unlock() }
    }

    /// Transactions committed, requests they held, and the bytes they
    /// appended to the WAL (frames × page size, without frame headers).
    var counters: WriterCounters {
        WriterCounters(commits: commits.load(ordering: .relaxed), writes: writes.load(ordering: .relaxed),
                       walBytes: walFramesAppended.load(ordering: .relaxed) * pageSize, pageSize: pageSize)
    }

    /// Queues a request; the writer answers it after its transaction.
    func submit(_ write: any PendingWrite, deferrable: Bool = false) {
        condition.lock()
        if stopping {
            condition.unlock()
            write.fail(.closed)
            return
        }
        submitted += 1
        let write = Queued(sequence: submitted, write: write)
        if deferrable && expedite {
            expedite = false  // the write it was for: urgent, as was asked
            pending.append(write)
            hasPending.store(true, ordering: .releasing)
            condition.signal()
        } else if deferrable && (options.deferralWindowMicroseconds > 0 || options.deferralCommits > 0) {
            deferred.append(write)
            // Only the first one changes what the writer waits for (its window's end).
            if deferred.count == 1 {
                oldestDeferredAt = DispatchTime.now().uptimeNanoseconds
                condition.signal()
            }
        } else {
            pending.append(write)
            hasPending.store(true, ordering: .releasing)
            condition.signal()
        }
        condition.unlock()
    }

    /// Commits the deferred writes now (a client started waiting for one);
    /// when none is queued yet, the next one is not deferred.
    func expediteDeferred() {
        condition.lock()
        expedite = true
        if !deferred.isEmpty { condition.signal() }
        condition.unlock()
    }

    /// Finishes every queued request, then stops the thread and waits for it.
    func stop() {
        condition.lock()
        stopping = true
        condition.broadcast()
        while !stopped { condition.wait() }
        condition.unlock()
    }

    private func run() {
        while let batch = nextBatch() {
            commit(batch)
            checkpointIfDue()
        }
        try? connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        condition.lock()
        stopped = true
        condition.broadcast()
        condition.unlock()
    }

    /// Waits for requests; nil once stopping with nothing left.
    private func nextBatch() -> [any PendingWrite]? {
        spinForWork()
        condition.lock()
        defer { condition.unlock() }
        while pending.isEmpty && !stopping {
            if deferred.isEmpty {
                condition.wait()
                continue
            }
            let due = oldestDeferredAt + deferralWindowNanos
            let now = DispatchTime.now().uptimeNanoseconds
            if expedite || now >= due { break }
            _ = condition.wait(until: Date(timeIntervalSinceNow: Double(due - now) / 1e9))
        }
        if pending.isEmpty && deferred.isEmpty { return nil }
        // Both lists, merged in the order the writes came: a deferred write
        // may be younger than a pending one that is about the same job (an
        // expedited start, then the job's unawaited end).
        var batch: [any PendingWrite] = []
        batch.reserveCapacity(min(pending.count + deferred.count, options.maxWritesPerTransaction))
        var fromPending = 0
        var fromDeferred = 0
        while batch.count < options.maxWritesPerTransaction && (fromPending < pending.count || fromDeferred < deferred.count) {
            let takeDeferred = fromPending == pending.count
                || (fromDeferred < deferred.count && deferred[fromDeferred].sequence < pending[fromPending].sequence)
            if takeDeferred {
                batch.append(deferred[fromDeferred].write)
                fromDeferred += 1
            } else {
                batch.append(pending[fromPending].write)
                fromPending += 1
            }
        }
        deferred.removeFirst(fromDeferred)
        pending.removeFirst(fromPending)
        if fromDeferred > 0 {
            expedite = false
            oldestDeferredAt = DispatchTime.now().uptimeNanoseconds
        }
        hasPending.store(!pending.isEmpty, ordering: .relaxed)
        return batch
    }

    /// How long a deferrable write may wait for company now.
    private var deferralWindowNanos: UInt64 {
        Self.deferralWindowNanos(averageCommitNanos: averageCommitNanos, options)
    }

    static func deferralWindowNanos(averageCommitNanos: Double, _ options: StoreOptions) -> UInt64 {
        let tied = UInt64(averageCommitNanos) * UInt64(options.deferralCommits)
        return max(options.deferralWindowMicroseconds * 1000, min(tied, options.maxDeferralMicroseconds * 1000))
    }

    /// A caller answered a moment ago often sends its next request at once:
    /// waiting a few microseconds for it is cheaper than sleeping and being
    /// woken (a futex round trip costs tens of microseconds here).
    private func spinForWork() {
        let deadline = DispatchTime.now().uptimeNanoseconds + 30_000
        while !hasPending.load(ordering: .acquiring) && DispatchTime.now().uptimeNanoseconds < deadline {}
    }

    private func commit(_ batch: [any PendingWrite]) {
        let began = DispatchTime.now().uptimeNanoseconds
        do {
            try connection.executePrepared("BEGIN IMMEDIATE")
        } catch {
            batch.forEach { $0.fail(StoreError(error, operation: "begin transaction")) }
            return
        }
        let transaction = WriteTransaction(
            connection: connection, now: options.clock(), leaseOwner: options.leaseOwner, maxActiveJobs: maxActiveJobs,
            keyConcurrency: keyConcurrency, metricEvents: metricEvents)
        defer { metricEvents.reset() }
        for write in batch {
            if let lost = runInSavepoint(write, transaction) {
                // SQLite rolled the whole transaction back (a full disk, an
                // I/O error): nothing of this batch was written.
                batch.forEach { $0.fail(lost) }
                return
            }
        }
        do {
            try transaction.counts.write(to: connection)
            try StoreError.wrap("commit") { () throws(SQLiteError) in try connection.executePrepared("COMMIT") }
        } catch {
            if !connection.isAutocommit { try? connection.executePrepared("ROLLBACK") }
            batch.forEach { $0.fail(error) }
            return
        }
        let tookNanos = DispatchTime.now().uptimeNanoseconds - began
        let took = Double(tookNanos)
        averageCommitNanos += (took - averageCommitNanos) / 8
        commits.add(1, ordering: .relaxed)
        writes.add(batch.count, ordering: .relaxed)
        // Counted before the answers (a few atomics per job): a scrape made
        // after a caller's answer always counts what it was answered.
        metrics.recordCommit(nanos: tookNanos, writes: batch.count)
        metrics.record(metricEvents.committed, at: transaction.now)
        if transaction.enqueued > 0 { Failpoint.afterCommit.hit() }
        batch.forEach { $0.answer() }
        if !transaction.settled.isEmpty { onSettled?(transaction.settled) }
    }

    /// Runs one request so that its failure undoes only its own statements.
    /// Returns an error when the transaction as a whole was lost.
    private func runInSavepoint(_ write: any PendingWrite, _ transaction: WriteTransaction) -> StoreError? {
        if write.writesOneStatement {
            let failure = write.execute(transaction)
            if connection.isAutocommit {
                return failure ?? .storage(operation: "write", message: "the transaction was rolled back by SQLite")
            }
            if failure != nil { transaction.requestRolledBack() } else { transaction.requestSucceeded() }
            return nil
        }
        do {
            try connection.executePrepared("SAVEPOINT request")
            let failure = write.execute(transaction)
            if connection.isAutocommit {
                return failure ?? .storage(operation: "write", message: "the transaction was rolled back by SQLite")
            }
            if failure != nil {
                try connection.executePrepared("ROLLBACK TO request")
                transaction.requestRolledBack()
            } else {
                transaction.requestSucceeded()
            }
            try connection.executePrepared("RELEASE request")
            return nil
        } catch {
            if connection.isAutocommit { return StoreError(error, operation: "write") }
            return nil
        }
    }

    private func checkpointIfDue() {
        guard Int(walFrames) * pageSize >= options.checkpointAfterWALBytes else { return }
        var logFrames: Int32 = 0
        var checkpointed: Int32 = 0
        let began = DispatchTime.now().uptimeNanoseconds
        let rc = sqlite3_wal_checkpoint_v2(connection.handle, nil, SQLITE_CHECKPOINT_PASSIVE, &logFrames, &checkpointed)
        metrics.recordCheckpoint(nanos: DispatchTime.now().uptimeNanoseconds - began)
        // A reader may pin old frames; the next commit's hook tries again.
        if rc == SQLITE_OK && logFrames == checkpointed { walFrames = 0 }
    }
}

/// A write waiting for the writer, numbered in the order it was submitted.
private struct Queued {
    var sequence: UInt64
    var write: any PendingWrite
}
