import JobCore
import JobStore

/// What the PostgreSQL engine does not do yet: external workers
/// (dependencies and concurrency keys are refused at enqueue).
/// Each is refused with a clear error (`unsupported`, -32602 on the wire),
/// never half done; a config that needs one fails at start. docs/cluster.md
/// lists them.
extension PostgresStore {
    public func reserve(_ reservations: [Reservation], freeSlots: @escaping (String) -> Int, startsLeft: @escaping (String) -> Int?,
                        leaseMs: @escaping (String) -> Int64, token: @escaping () -> String, reserved: @escaping ([Job]) -> Void,
                        completion: @escaping @Sendable (Result<[[Job]], StoreError>) -> Void) {
        completion(.failure(.unsupported(feature: "reserve (external workers)")))
    }

    public func heartbeat(_ id: JobID, token: String, leaseMs: Int64?, progress: RawJSON?,
                          completion: @escaping @Sendable (Result<Result<HeartbeatOutcome, LeaseLost>, StoreError>) -> Void) {
        completion(.failure(.unsupported(feature: "heartbeat (external workers)")))
    }

    public func complete(_ id: JobID, token: String, result: RawJSON?, resultTruncated: Bool,
                         completion: @escaping @Sendable (Result<Result<Job, LeaseLost>, StoreError>) -> Void) {
        completion(.failure(.unsupported(feature: "complete (external workers)")))
    }

    public func fail(_ id: JobID, token: String, failure: JobFailure, disposition: FailureDisposition,
                     completion: @escaping @Sendable (Result<Result<Job, LeaseLost>, StoreError>) -> Void) {
        completion(.failure(.unsupported(feature: "fail (external workers)")))
    }

    public func expire(_ id: JobID, token: String, failure: JobFailure, retryAfterMs: Int64) async throws(StoreError) -> Job? { nil }

    public func heldLeases() async throws(StoreError) -> [Job] { [] }

    public func setExternalHandlers(_ names: [String]) async throws(StoreError) -> Int {
        if !names.isEmpty { throw .unsupported(feature: "external handlers (\(names.joined(separator: ", ")))") }
        return 0
    }
}
