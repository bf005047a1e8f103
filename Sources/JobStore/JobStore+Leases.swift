import JobCore

/// External workers' calls (WORKERS.md). Every one is a write answered
/// after its commit; a token that does not hold the job changes nothing.
extension JobStore {
    /// Serves several workers' reservations in one transaction, in order.
    /// `freeSlots` and `leaseMs` run on the writer thread, inside it;
    /// `reserved` too, before the commit, with every job reserved (the
    /// engine counts their slots from then on; `completion` gets a failure
    /// if the commit does not happen).
    /// `startsLeft(handler)`: how many jobs of a rate-limited handler may start now (nil: no limit).
    public func reserve(_ reservations: [Reservation], freeSlots: @escaping (String) -> Int, startsLeft: @escaping (String) -> Int? = { _ in nil },
                        leaseMs: @escaping (String) -> Int64,
                        token: @escaping () -> String, reserved: @escaping ([Job]) -> Void,
                        completion: @escaping @Sendable (Result<[[Job]], StoreError>) -> Void) {
        perform({ tx throws(StoreError) in
            let answers = try tx.reserve(reservations, freeSlots: freeSlots, startsLeft: startsLeft, leaseMs: leaseMs, token: token)
            reserved(answers.flatMap { $0 })
            return answers
        }, completion: completion)
    }

    /// The calls of a lease's holder. `completion` runs on the writer thread
    /// after the commit (no task per call); a token that does not hold the
    /// job gives `LeaseLost` and changes nothing.
    public typealias LeaseAnswer<T: Sendable> = @Sendable (Result<Result<T, LeaseLost>, StoreError>) -> Void

    public func heartbeat(_ id: JobID, token: String, leaseMs: Int64?, progress: RawJSON?, completion: @escaping LeaseAnswer<HeartbeatOutcome>) {
        perform(writesOneStatement: true, { tx throws(StoreError) in
            try tx.heartbeat(id, token: token, leaseMs: leaseMs, progress: progress)
        }, completion: completion)
    }

    public func complete(_ id: JobID, token: String, result: RawJSON?, resultTruncated: Bool, completion: @escaping LeaseAnswer<Job>) {
        perform(writesOneStatement: true, { tx throws(StoreError) in
            try tx.complete(id, token: token, result: result, resultTruncated: resultTruncated)
        }, completion: completion)
    }

    public func fail(_ id: JobID, token: String, failure: JobFailure, disposition: FailureDisposition, completion: @escaping LeaseAnswer<Job>) {
        perform(writesOneStatement: true, { tx throws(StoreError) in
            try tx.fail(id, token: token, failure: failure, disposition: disposition)
        }, completion: completion)
    }

    /// The lease `token` lost (expired, or the daemon's timeout): a failed
    /// attempt, retried after `retryAfterMs` or failed. Nil when the token
    /// no longer holds the job (it ended meanwhile).
    public func expire(_ id: JobID, token: String, failure: JobFailure, retryAfterMs: Int64) async throws(StoreError) -> Job? {
        try await perform(writesOneStatement: true) { tx throws(StoreError) in
            // Not if a heartbeat extended it meanwhile (the engine's copy is older).
            guard let attempt = try tx.connection.firstRow("expire lease", """
                SELECT attempts FROM jobs WHERE id = ? AND state = 'running' AND lease_token = ? AND lease_expires_at <= ?
                """, [.int(id.rawValue), .text(token), .int(tx.now.rawValue)], { Int($0.int(0)) }) else { return nil }
            return try tx.fail(id, attempt: attempt, failure: failure, disposition: .retry(afterMs: retryAfterMs))
        }
    }

    /// Every external lease held now.
    public func heldLeases() async throws(StoreError) -> [Job] {
        try await perform(writesOneStatement: true) { tx throws(StoreError) in try tx.heldLeases() }
    }

    /// Sets which handlers' unstarted jobs are external (at start-up and reload).
    @discardableResult
    public func setExternalHandlers(_ names: [String]) async throws(StoreError) -> Int {
        try await perform(writesOneStatement: true) { tx throws(StoreError) in try tx.setExternalHandlers(names) }
    }
}
