import JobCore
import JobStore

/// What clients ask of the engine through the server.
extension Engine {
    /// Stores a job. When a worker is free, the same transaction claims the
    /// next ready jobs (most often this one), which saves a commit before it
    /// starts; otherwise the dispatcher is woken.
    public func enqueue(_ job: NewJob) async throws(StoreError) -> EnqueueOutcome {
        let result = await withCheckedContinuation { continuation in enqueue(job) { continuation.resume(returning: $0) } }
        return try result.get()
    }

    /// `enqueue` for a caller that does not await (the socket's request
    /// path: no task per request). `completion` runs on the store's writer
    /// thread after the commit.
    public func enqueue(_ job: NewJob, completion: @escaping @Sendable (Result<EnqueueOutcome, StoreError>) -> Void) {
        guard !job.external, job.initialState(createdAt: clock()) == .queued, let request = beginClaim() else {
            store.enqueue(job) { [self] result in
                if case .success(let outcome) = result, !outcome.duplicate { wake() }
                completion(result)
            }
            return
        }
        store.enqueueAndClaim(job, request) { [self] result in
            switch result {
            case .success(let stored):
                accept(stored.claimed)
                // The claim took what the free slots allowed: a dispatcher pass
                // now would find nothing more, unless it was turned away while
                // this claim ran.
                if endClaim() { wake() }
                completion(.success(stored.outcome))
            case .failure(let error):
                _ = endClaim()
                wake()
                completion(.failure(error))
            }
        }
    }

    public func enqueueBatch(_ jobs: [NewJob]) async throws(StoreError) -> BatchEnqueueOutcome {
        let result = await withCheckedContinuation { continuation in enqueueBatch(jobs) { continuation.resume(returning: $0) } }
        return try result.get()
    }

    /// `enqueueBatch` for a caller that does not await.
    public func enqueueBatch(_ jobs: [NewJob], completion: @escaping @Sendable (Result<BatchEnqueueOutcome, StoreError>) -> Void) {
        store.enqueueBatch(jobs) { [self] result in
            if case .success = result { wake() }
            completion(result)
        }
    }

    /// Cancels a job; a running one's handler is stopped.
    public func cancel(_ id: JobID) async throws(StoreError) -> Job {
        let outcome = try await store.cancel(id)
        if outcome.previousState == .running { stopRunning(id) }
        notifyWaiters(outcome.job)
        wake()
        return outcome.job
    }

    public func retry(_ id: JobID) async throws(StoreError) -> Job {
        let config = self.config
        let job = try await store.retry(id) { config.handler(named: $0)?.kind == .external }
        wake()
        return job
    }

    /// Its jobs claimed ahead go back to `queued`: a paused queue starts
    /// nothing, and they had not started. No claim runs meanwhile, so none
    /// can hand over jobs of the queue after they were put back.
    public func pause(queue: String) async throws(StoreError) {
        await holdClaims()
        defer { if endClaim() { wake() } }
        try await store.pause(queue: queue)
        let unstarted = removeClaimedAhead(queue: queue)
        try await store.releaseUnstarted(unstarted.map { ($0.id, $0.attempts) })
    }

    public func resume(queue: String) async throws(StoreError) {
        try await store.resume(queue: queue)
        wake()
    }

    /// The job, with the defaults of its handler (from the config) filled in.
    /// Nil when no handler of that name exists (1003).
    public func resolve(handler name: String, queue: String?, maxAttempts: Int?, timeoutMs: Int64?)
        -> (queue: String, maxAttempts: Int, timeoutMs: Int64, external: Bool)? {
        guard let handler = config.handler(named: name) else { return nil }
        return (queue ?? handler.queue ?? "default",
                maxAttempts ?? handler.maxAttempts ?? HandlerConfig.defaultMaxAttempts,
                timeoutMs ?? handler.timeoutMs ?? HandlerConfig.defaultTimeoutMs,
                handler.kind == .external)
    }
}
