import JobCore

extension JobStore {
    /// `enqueue` for a caller that does not await (the socket's request path).
    public func enqueue(_ job: NewJob, completion: @escaping @Sendable (Result<EnqueueOutcome, StoreError>) -> Void) {
        let oneStatement = job.tags.isEmpty && job.after.isEmpty && job.concurrencyKey == nil
        perform(writesOneStatement: oneStatement, { tx throws(StoreError) in try tx.enqueue(job) }, completion: completion)
    }

    /// `enqueueAndClaim` for a caller that does not await.
    public func enqueueAndClaim(_ job: NewJob, _ request: ClaimRequest,
                                completion: @escaping @Sendable (Result<EnqueueAndClaim, StoreError>) -> Void) {
        perform({ tx throws(StoreError) in
            let outcome = try tx.enqueue(job)
            return EnqueueAndClaim(outcome: outcome, claimed: try tx.claim(request))
        }, completion: completion)
    }

    /// `enqueueBatch` for a caller that does not await.
    public func enqueueBatch(_ jobs: [NewJob], completion: @escaping @Sendable (Result<BatchEnqueueOutcome, StoreError>) -> Void) {
        perform({ tx throws(StoreError) in try tx.enqueueBatch(jobs) }, completion: completion)
    }

    /// Marks up to `request.maxJobs` ready jobs `running` under this run's lease
    /// (promoting due `scheduled`/`retrying` jobs first) and returns them.
    public func claim(_ request: ClaimRequest) async throws(StoreError) -> [Job] {
        try await perform { tx throws(StoreError) in try tx.claim(request) }
    }

    /// A job claimed ahead has started. Rides in the next transaction and
    /// is not awaited: until it commits, a crash puts the job back to
    /// `queued` with this attempt not counted.
    public func recordStart(_ id: JobID, attempt: Int, at start: Timestamp) {
        perform(writesOneStatement: true, deferrable: true, { tx throws(StoreError) in
            try tx.recordStart(id, attempt: attempt, at: start)
        }, completion: { _ in })
    }

    /// Puts jobs claimed ahead that never started back to `queued`, their
    /// attempt not counted (a pause, a shutdown). Returns how many went back.
    @discardableResult
    public func releaseUnstarted(_ jobs: [(id: JobID, attempt: Int)]) async throws(StoreError) -> Int {
        guard !jobs.isEmpty else { return 0 }
        return try await perform { tx throws(StoreError) in try tx.releaseUnstarted(jobs) }
    }

    /// Records the success of attempt `attempt`. Returns nil, changing
    /// nothing, when the job is no longer running that attempt.
    /// `deferrable`: no client waits for this job (see `GroupCommitWriter`).
    /// `complete` for a caller that does not await (the engine, as a handler
    /// ends): `completion` runs on the writer thread after the commit.
    public func complete(_ id: JobID, attempt: Int, result: RawJSON?, resultTruncated: Bool = false, deferrable: Bool = false,
                         completion: @escaping @Sendable (Result<Job?, StoreError>) -> Void) {
        perform(writesOneStatement: true, deferrable: deferrable, { tx throws(StoreError) in
            try tx.complete(id, attempt: attempt, result: result, resultTruncated: resultTruncated)
        }, completion: completion)
    }

    /// Records the failure of attempt `attempt` (see `FailureDisposition`).
    /// Returns nil, changing nothing, when the job is no longer running that attempt.
    /// `fail` for a caller that does not await.
    public func fail(_ id: JobID, attempt: Int, failure: JobFailure, disposition: FailureDisposition, deferrable: Bool = false,
                     completion: @escaping @Sendable (Result<Job?, StoreError>) -> Void) {
        perform(writesOneStatement: true, deferrable: deferrable, { tx throws(StoreError) in
            try tx.fail(id, attempt: attempt, failure: failure, disposition: disposition)
        }, completion: completion)
    }

    /// Cancels an unfinished job (`invalidState` for a finished one).
    public func cancel(_ id: JobID) async throws(StoreError) -> CancelOutcome {
        try await perform(writesOneStatement: true) { tx throws(StoreError) in try tx.cancel(id) }
    }

    /// Queues a `failed` or `cancelled` job again with attempts from 0.
    /// `isExternal`: whether a handler is served by external workers now (the config's say).
    public func retry(_ id: JobID, isExternal: @escaping @Sendable (String) -> Bool = { _ in false }) async throws(StoreError) -> Job {
        try await perform(writesOneStatement: true) { tx throws(StoreError) in try tx.retry(id, isExternal: isExternal) }
    }

    /// Stops `queue` from starting jobs, persistently. Returns true.
    @discardableResult
    public func pause(queue: String) async throws(StoreError) -> Bool {
        try await perform { tx throws(StoreError) in try tx.setPaused(queue, true) }
    }

    /// Lets `queue` start jobs again. Returns false (the new `paused`).
    @discardableResult
    public func resume(queue: String) async throws(StoreError) -> Bool {
        try await perform { tx throws(StoreError) in try tx.setPaused(queue, false) }
    }

    /// Moves due `scheduled`/`retrying` jobs to `queued`, at most `limit`.
    @discardableResult
    public func promoteDue(limit: Int = 1000) async throws(StoreError) -> Int {
        try await perform { tx throws(StoreError) in try tx.promoteDue(limit: limit) }
    }

    /// Deletes finished jobs older than their retention, at most `batchSize`
    /// per state; call again while it returns more than 0.
    public func prune(retentionMs: [JobState: Int64], batchSize: Int = 500) async throws(StoreError) -> Int {
        try await perform { tx throws(StoreError) in try tx.prune(retentionMs: retentionMs, batchSize: batchSize) }
    }

    /// At start-up: every job left `running` by an earlier run becomes a
    /// failed attempt ("daemon stopped during the attempt"), retried after
    /// `retryDelayMs(job)` or `failed` on its last attempt; one claimed
    /// ahead whose start was never recorded goes back to `queued` with its
    /// attempt not counted. Returns them all.
    public func recoverInterrupted(retryDelayMs: @escaping @Sendable (Job) -> Int64) async throws(StoreError) -> [Job] {
        try await perform { tx throws(StoreError) in try tx.recoverInterrupted(retryDelayMs: retryDelayMs) }
    }

    /// Lets held jobs in wherever their key has room (after `keyConcurrency` changed).
    @discardableResult
    public func releaseHeldKeys() async throws(StoreError) -> Int {
        try await perform { tx throws(StoreError) in try tx.releaseHeldKeys() }
    }

    /// A write round trip through the writer thread (an empty transaction):
    /// returns only while the writer is alive and the database takes writes.
    public func checkWriter() async throws(StoreError) {
        _ = try await perform(writesOneStatement: true) { _ throws(StoreError) in true }
    }

    /// `max_queued_jobs`; a config reload may change it.
    public var maxActiveJobs: Int {
        get { writerMaxActiveJobs }
        set { writerMaxActiveJobs = newValue }
    }
}
