import JobCore
import JobEngine
import JobRPC
import JobStore

/// `enqueue`: store one job; answer when it is committed, or, with
/// `wait_ms`, when it is terminal or the time has passed.
enum EnqueueMethod: RPCMethod {
    static let name = "enqueue"
    static let isNewWork = true

    static func run(_ params: JSONValue?, _ context: MethodContext) async throws(RPCError) -> JSONWriter {
        let request = try EnqueueParams(params)
        let job = try newJob(request, context)
        let outcome = try await storeCall { () async throws(StoreError) in try await context.engine.enqueue(job) }
        guard let waitMs = request.waitMs else { return answer(outcome) }
        let finished = try await storeCall { () async throws(StoreError) in try await context.engine.wait(for: outcome.id, timeoutMs: waitMs) }
        return jobResult(finished, duplicate: outcome.duplicate)
    }

    /// Without `wait_ms`: answered from the writer thread once committed.
    static func start(_ params: JSONValue?, _ context: MethodContext,
                      reply: @escaping @Sendable (Result<JSONWriter, RPCError>) -> Void) -> Bool {
        let job: NewJob
        do throws(RPCError) {
            let request = try EnqueueParams(params)
            guard request.waitMs == nil else { return false }
            job = try newJob(request, context)
        } catch {
            reply(.failure(error))
            return true
        }
        context.engine.enqueue(job) { result in reply(wire(result).map(answer)) }
        return true
    }

    private static func answer(_ outcome: EnqueueOutcome) -> JSONWriter {
        var w = JSONWriter()
        w.object { o in
            o.member("id") { $0.integer(outcome.id.rawValue) }
            o.member("state") { $0.string(outcome.state.rawValue) }
            o.member("duplicate") { $0.bool(outcome.duplicate) }
        }
        return w
    }

    /// The job to store: params checked, the handler's defaults filled in.
    /// `index` is set for an entry of `enqueue_batch`.
    static func newJob(_ request: EnqueueParams, _ context: MethodContext, index: Int? = nil) throws(RPCError) -> NewJob {
        guard request.payload.text.utf8.count <= context.config.limits.maxPayloadBytes else {
            throw RPCError.invalidParam("payload", "larger than max_payload_bytes (\(context.config.limits.maxPayloadBytes) bytes)", index: index)
        }
        guard let defaults = context.engine.resolve(handler: request.handler, queue: request.queue,
                                                    maxAttempts: request.maxAttempts, timeoutMs: request.timeoutMs) else {
            throw RPCError(.unknownHandler, "unknown handler \"\(request.handler)\"", field: "handler", index: index)
        }
        let job = NewJob(handler: request.handler, payload: request.payload, queue: defaults.queue, priority: request.priority,
                         start: request.start, maxAttempts: defaults.maxAttempts, timeoutMs: defaults.timeoutMs,
                         uniqueKey: request.uniqueKey, tags: request.tags, external: defaults.external,
                         after: request.after, afterIndex: request.afterIndex, concurrencyKey: request.concurrencyKey)
        do {
            try job.validate(maxPayloadBytes: context.config.limits.maxPayloadBytes)
        } catch {
            throw RPCError(error, index: index)
        }
        return job
    }
}

/// `enqueue_batch`: all or nothing.
enum EnqueueBatchMethod: RPCMethod {
    static let name = "enqueue_batch"
    static let isNewWork = true

    static func run(_ params: JSONValue?, _ context: MethodContext) async throws(RPCError) -> JSONWriter {
        let jobs = try newJobs(params, context)
        let outcome = try await storeCall { () async throws(StoreError) in try await context.engine.enqueueBatch(jobs) }
        return answer(outcome)
    }

    /// Answered from the writer thread once committed.
    static func start(_ params: JSONValue?, _ context: MethodContext,
                      reply: @escaping @Sendable (Result<JSONWriter, RPCError>) -> Void) -> Bool {
        do throws(RPCError) {
            let jobs = try newJobs(params, context)
            context.engine.enqueueBatch(jobs) { result in reply(wire(result).map(answer)) }
        } catch {
            reply(.failure(error))
        }
        return true
    }

    private static func newJobs(_ params: JSONValue?, _ context: MethodContext) throws(RPCError) -> [NewJob] {
        let request = try EnqueueBatchParams(params)
        var jobs: [NewJob] = []
        jobs.reserveCapacity(request.jobs.count)
        for (index, entry) in request.jobs.enumerated() {
            jobs.append(try EnqueueMethod.newJob(entry, context, index: index))
        }
        return jobs
    }

    private static func answer(_ outcome: BatchEnqueueOutcome) -> JSONWriter {
        var w = JSONWriter(capacity: 32 + outcome.ids.count * 16)
        w.object { o in
            o.member("ids") { $0.array(outcome.ids) { w, id in w.integer(id.rawValue) } }
            o.member("duplicates") { $0.array(outcome.duplicates) { w, d in w.bool(d) } }
        }
        return w
    }
}
