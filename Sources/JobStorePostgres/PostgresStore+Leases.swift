import JobCore
import JobStore

/// External workers' calls (WORKERS.md) across the cluster: a worker talks
/// to one node, and its token holds the job on every node
/// (PostgresTransaction+Leases).
extension PostgresStore {
    /// As `JobStore.reserve`, but `reserved` runs after the commit, just
    /// before `completion`: a transaction here may run its requests twice
    /// (a failed neighbour rolls it back), and the engine must count the
    /// leases of the run that committed only.
    public func reserve(_ reservations: [Reservation], freeSlots: @escaping (String) -> Int, startsLeft: @escaping (String) -> Int?,
                        leaseMs: @escaping (String) -> Int64, token: @escaping () -> String, reserved: @escaping ([Job]) -> Void,
                        completion: @escaping @Sendable (Result<[[Job]], StoreError>) -> Void) {
        let leaseHeld = self.leaseHeld
        let registered = UncheckedBox(reserved)
        perform({ tx throws(StoreError) in
            try await tx.reserve(reservations, freeSlots: freeSlots, startsLeft: startsLeft, leaseMs: leaseMs, token: token, leaseHeld: leaseHeld)
        }, completion: { result in
            if case .success(let answers) = result { registered.value(answers.flatMap { $0 }) }
            completion(result)
        })
    }

    public func heartbeat(_ id: JobID, token: String, leaseMs: Int64?, progress: RawJSON?,
                          completion: @escaping @Sendable (Result<Result<HeartbeatOutcome, LeaseLost>, StoreError>) -> Void) {
        perform({ tx throws(StoreError) in try await tx.heartbeat(id, token: token, leaseMs: leaseMs, progress: progress) }, completion: completion)
    }

    public func complete(_ id: JobID, token: String, result: RawJSON?, resultTruncated: Bool,
                         completion: @escaping @Sendable (Result<Result<Job, LeaseLost>, StoreError>) -> Void) {
        perform({ tx throws(StoreError) in
            try await tx.complete(id, token: token, result: result, resultTruncated: resultTruncated)
        }, completion: completion)
    }

    public func fail(_ id: JobID, token: String, failure: JobFailure, disposition: FailureDisposition,
                     completion: @escaping @Sendable (Result<Result<Job, LeaseLost>, StoreError>) -> Void) {
        perform({ tx throws(StoreError) in try await tx.fail(id, token: token, failure: failure, disposition: disposition) },
                completion: completion)
    }

    public func expire(_ id: JobID, token: String, failure: JobFailure, retryAfterMs: Int64) async throws(StoreError) -> Job? {
        try await perform { tx throws(StoreError) in try await tx.expire(id, token: token, failure: failure, retryAfterMs: retryAfterMs) }
    }

    public func heldLeases() async throws(StoreError) -> [Job] {
        try await perform { tx throws(StoreError) in try await tx.heldLeases() }
    }

    public func setExternalHandlers(_ names: [String]) async throws(StoreError) -> Int {
        try await perform { tx throws(StoreError) in try await tx.setExternalHandlers(names) }
    }
}

/// Carries a closure the engine gave into a `@Sendable` completion (the
/// engine's `reserved` takes its own lock).
private final class UncheckedBox<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}
