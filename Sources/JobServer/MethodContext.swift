import JobCore
import JobEngine
import JobRPC
import JobStore
import Synchronization

/// What a method handler gets: the engine, and the limits in force.
struct MethodContext: Sendable {
    var engine: Engine
    var config: DaemonConfig
    var version: String
    /// The connection and its peer (nil when `SO_PEERCRED` could not be read).
    var caller: Caller?
    /// Where the HTTP listener is, when it is on (for `ping`).
    var listener: HTTPListenerInfo.Box
}

/// The HTTP listener as `ping` reports it (OBSERVABILITY.md): its URL and
/// the token's file, for `jobctl dashboard`.
public struct HTTPListenerInfo: Sendable, Equatable {
    public var url: String
    public var tokenFile: String

    public init(url: String, tokenFile: String) {
        self.url = url
        self.tokenFile = tokenFile
    }

    /// Set once the listener is bound; read only by `ping`.
    final class Box: Sendable {
        let value = Mutex<HTTPListenerInfo?>(nil)
    }
}

/// One RPC method: reads its params, does its work, writes its result value.
protocol RPCMethod: Sendable {
    static var name: String { get }
    /// Whether a stopping daemon refuses it with 1006 (new work).
    static var isNewWork: Bool { get }
    static func run(_ params: JSONValue?, _ context: MethodContext) async throws(RPCError) -> JSONWriter
    /// Starts the request without a task of its own, where it can: a read
    /// answered at once on the caller's thread, or a write whose answer
    /// comes from the store's writer thread after the commit. Returns false
    /// when it cannot (the request waits for something: `run` does it), and
    /// then has not called `reply`. A thread hop saved here is ~10 µs of a
    /// request's latency and a context switch (performance.md).
    static func start(_ params: JSONValue?, _ context: MethodContext,
                      reply: @escaping @Sendable (Result<JSONWriter, RPCError>) -> Void) -> Bool
}

extension RPCMethod {
    static var isNewWork: Bool { false }
    static func start(_ params: JSONValue?, _ context: MethodContext,
                      reply: @escaping @Sendable (Result<JSONWriter, RPCError>) -> Void) -> Bool { false }
}

/// A method that answers from what it reads now, without waiting: it can
/// always run on the caller's thread.
protocol ImmediateRPCMethod: RPCMethod {
    static func answer(_ params: JSONValue?, _ context: MethodContext) throws(RPCError) -> JSONWriter
}

extension ImmediateRPCMethod {
    static func run(_ params: JSONValue?, _ context: MethodContext) async throws(RPCError) -> JSONWriter {
        try answer(params, context)
    }

    static func start(_ params: JSONValue?, _ context: MethodContext,
                      reply: @escaping @Sendable (Result<JSONWriter, RPCError>) -> Void) -> Bool {
        reply(Result { () throws(RPCError) in try answer(params, context) })
        return true
    }
}

/// Turns a store result into the wire's.
func wire<T>(_ result: Result<T, StoreError>) -> Result<T, RPCError> {
    result.mapError { RPCError($0) }
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
