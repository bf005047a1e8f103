import JobCore
import JobEngine
import JobRPC
import JobStore

/// `reserve`: jobs of external handlers under a lease, at once or when one
/// comes (`wait_ms`). Answered from the writer thread after the commit, or
/// by the engine when a waiting call's time is up: no task per call.
enum ReserveMethod: RPCMethod {
    static let name = "reserve"
    static let isNewWork = true

    static func run(_ params: JSONValue?, _ context: MethodContext) async throws(RPCError) -> JSONWriter {
        let result = await withCheckedContinuation { continuation in
            _ = start(params, context) { continuation.resume(returning: $0) }
        }
        return try result.get()
    }

    static func start(_ params: JSONValue?, _ context: MethodContext,
                      reply: @escaping @Sendable (Result<JSONWriter, RPCError>) -> Void) -> Bool {
        let reservation: Reservation
        let waitMs: Int64
        do throws(RPCError) {
            (reservation, waitMs) = try prepare(params, context)
        } catch {
            reply(.failure(error))
            return true
        }
        context.engine.reserve(reservation, waitMs: waitMs, caller: context.caller) { result in
            reply(wire(result).map(answer))
        }
        return true
    }

    /// The params, with each handler checked to be external (1003 otherwise).
    static func prepare(_ params: JSONValue?, _ context: MethodContext) throws(RPCError) -> (Reservation, Int64) {
        let request = try ReserveParams(params)
        for handler in request.handlers where context.config.handlers[handler]?.kind != .external {
            throw RPCError(.unknownHandler, "\"\(handler)\" is not an external handler (external: true in the config)", field: "handlers")
        }
        return (Reservation(handlers: request.handlers, maxJobs: request.maxJobs, leaseMs: request.leaseMs, worker: request.worker),
                request.waitMs)
    }

    private static func answer(_ jobs: [Job]) -> JSONWriter {
        var w = JSONWriter(capacity: 64 + jobs.reduce(0) { $0 + 600 + $1.payload.text.utf8.count })
        w.object { o in
            o.member("jobs") { $0.array(jobs) { w, job in JobJSON.write(job, to: &w, token: true) } }
        }
        return w
    }
}

/// `heartbeat`: extends the lease, stores the progress.
enum HeartbeatMethod: WriterAnsweredMethod {
    static let name = "heartbeat"

    static func begin(_ params: JSONValue?, _ context: MethodContext, reply: @escaping Reply) throws(RPCError) {
        let request = try HeartbeatParams(params)
        context.engine.heartbeat(request.id, token: request.token, leaseMs: request.leaseMs, progress: request.progress,
                                 caller: context.caller) { outcome in
            reply(outcome.mapError(RPCError.init).map { beat in
                var w = JSONWriter()
                w.object { o in
                    o.member("expires_at") { $0.timestamp(beat.expiresAt) }
                    // A graceful cancel is not offered yet: a cancel ends the lease at once (1007).
                    o.member("cancel_requested") { $0.bool(false) }
                }
                return w
            })
        }
    }
}

/// `complete`: the job succeeded; the job object after the commit.
enum CompleteMethod: WriterAnsweredMethod {
    static let name = "complete"

    static func begin(_ params: JSONValue?, _ context: MethodContext, reply: @escaping Reply) throws(RPCError) {
        let request = try CompleteParams(params)
        context.engine.complete(request.id, token: request.token, result: request.result) { outcome in
            reply(outcome.mapError(RPCError.init).map { jobResult($0) })
        }
    }
}

/// `fail`: a failed attempt, retried or not; the job object after the commit.
enum FailMethod: WriterAnsweredMethod {
    static let name = "fail"

    static func begin(_ params: JSONValue?, _ context: MethodContext, reply: @escaping Reply) throws(RPCError) {
        let request = try FailParams(params)
        let failure = JobFailure(message: request.message, at: context.engine.now, details: request.details)
        context.engine.fail(request.id, token: request.token, failure: failure, permanent: !request.retry) { outcome in
            reply(outcome.mapError(RPCError.init).map { jobResult($0) })
        }
    }
}

/// A method answered from the store's writer thread after its commit, never
/// from a task of its own (a worker's end: one per job, on the hot path).
protocol WriterAnsweredMethod: RPCMethod {
    typealias Reply = @Sendable (Result<JSONWriter, RPCError>) -> Void
    /// Checks the params (throwing before anything is written) and starts the write.
    static func begin(_ params: JSONValue?, _ context: MethodContext, reply: @escaping Reply) throws(RPCError)
}

extension WriterAnsweredMethod {
    static func run(_ params: JSONValue?, _ context: MethodContext) async throws(RPCError) -> JSONWriter {
        let result = await withCheckedContinuation { continuation in
            _ = start(params, context) { continuation.resume(returning: $0) }
        }
        return try result.get()
    }

    static func start(_ params: JSONValue?, _ context: MethodContext, reply: @escaping Reply) -> Bool {
        do throws(RPCError) {
            try begin(params, context, reply: reply)
        } catch {
            reply(.failure(error))
        }
        return true
    }
}

/// `workers`: the connections that called `reserve` (an addition of this
/// daemon, docs/workers.md), with their peer and the leases they hold.
enum WorkersMethod: ImmediateRPCMethod {
    static let name = "workers"

    static func answer(_ params: JSONValue?, _ context: MethodContext) throws(RPCError) -> JSONWriter {
        _ = try NoParams(params)
        let workers = context.engine.connectedWorkersNow()
        var w = JSONWriter(capacity: 64 + workers.count * 200)
        w.object { o in
            o.member("workers") { w in
                w.array(workers) { w, worker in
                    w.object { o in
                        o.member("name") { $0.optionalString(worker.name) }
                        o.member("pid") { $0.integer(Int(worker.caller.pid)) }
                        o.member("uid") { $0.integer(Int(worker.caller.uid)) }
                        o.member("gid") { $0.integer(Int(worker.caller.gid)) }
                        o.member("connected_at") { $0.timestamp(worker.connectedAt) }
                        o.member("last_heartbeat_at") { $0.timestamp(worker.lastHeartbeatAt) }
                        o.member("jobs_held") { $0.integer(worker.jobsHeld) }
                    }
                }
            }
        }
        return w
    }
}
