import JobCore
import JobEngine
import JobRPC
import JobStore

/// What a method handler gets: the engine, and the limits in force.
struct MethodContext: Sendable {
    var engine: Engine
    var config: DaemonConfig
    var version: String
}

/// One RPC method: reads its params, does its work, writes its result value.
protocol RPCMethod: Sendable {
    static var name: String { get }
    /// Whether a stopping daemon refuses it with 1006 (new work).
    static var isNewWork: Bool { get }
    static func run(_ params: JSONValue?, _ context: MethodContext) async throws(RPCError) -> JSONWriter
}

extension RPCMethod {
    static var isNewWork: Bool { false }
}

/// Turns a store error into the wire's.
func storeCall<T>(_ body: () async throws(StoreError) -> T) async throws(RPCError) -> T {
    do {
        return try await body()
    } catch {
        throw RPCError(error)
    }
}

/// Writes one job object as a method's result.
func jobResult(_ job: Job, brief: Bool = false, duplicate: Bool? = nil) -> JSONWriter {
    var w = JSONWriter(capacity: 512 + job.payload.text.utf8.count + (job.result?.text.utf8.count ?? 0))
    JobJSON.write(job, to: &w, brief: brief, duplicate: duplicate)
    return w
}
