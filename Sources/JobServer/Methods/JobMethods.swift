import JobCore
import JobEngine
import JobRPC
import JobStore

/// `get`: the job object (1001 if unknown).
/// Answered on the caller's thread when the store's reads are local.
enum GetMethod: RPCMethod {
    static let name = "get"

    static func run(_ params: JSONValue?, _ context: MethodContext) async throws(RPCError) -> JSONWriter {
        let request = try JobIDParams(params)
        return try answer(try await storeCall { () async throws(StoreError) in try await context.engine.store.get(request.id) }, request.id)
    }

    static func start(_ params: JSONValue?, _ context: MethodContext,
                      reply: @escaping @Sendable (Result<JSONWriter, RPCError>) -> Void) -> Bool {
        guard let reads = context.engine.store.localReads else { return false }
        reply(Result { () throws(RPCError) in
            let request = try JobIDParams(params)
            return try answer(try wire(Result { () throws(StoreError) in try reads.get(request.id) }).get(), request.id)
        })
        return true
    }

    private static func answer(_ job: Job?, _ id: JobID) throws(RPCError) -> JSONWriter {
        guard let job else { throw RPCError(.notFound, "job \(id) not found", jobID: id) }
        return jobResult(job)
    }
}

/// `wait`: the job once terminal, or as it stands when the timeout passes.
enum WaitMethod: RPCMethod {
    static let name = "wait"

    static func run(_ params: JSONValue?, _ context: MethodContext) async throws(RPCError) -> JSONWriter {
        let request = try WaitParams(params)
        let job = try await storeCall { () async throws(StoreError) in
            try await context.engine.wait(for: request.id, timeoutMs: request.timeoutMs)
        }
        return jobResult(job)
    }
}

/// `cancel`: the job, now `cancelled` (1002 for a finished one).
enum CancelMethod: RPCMethod {
    static let name = "cancel"

    static func run(_ params: JSONValue?, _ context: MethodContext) async throws(RPCError) -> JSONWriter {
        let request = try JobIDParams(params)
        return jobResult(try await storeCall { () async throws(StoreError) in try await context.engine.cancel(request.id) })
    }
}

/// `retry`: a `failed` or `cancelled` job queued again.
enum RetryMethod: RPCMethod {
    static let name = "retry"
    static let isNewWork = true

    static func run(_ params: JSONValue?, _ context: MethodContext) async throws(RPCError) -> JSONWriter {
        let request = try JobIDParams(params)
        return jobResult(try await storeCall { () async throws(StoreError) in try await context.engine.retry(request.id) })
    }
}

/// `list`: one page of jobs in id order, and the cursor of the next.
enum ListMethod: RPCMethod {
    static let name = "list"

    static func run(_ params: JSONValue?, _ context: MethodContext) async throws(RPCError) -> JSONWriter {
        let request = try ListParams(params)
        var filter = ListFilter(queue: request.queue, state: request.state, handler: request.handler, tag: request.tag,
                                afterID: request.afterID, limit: request.limit)
        filter.newestFirst = request.newestFirst
        filter.beforeID = request.beforeID
        let page = try await storeCall { () async throws(StoreError) in try await context.engine.store.list(filter) }
        var w = JSONWriter(capacity: 64 + page.jobs.count * 400)
        w.object { o in
            o.member("jobs") { $0.array(page.jobs) { w, job in JobJSON.write(job, to: &w, brief: true) } }
            // The cursor of the order asked for (`JobPage.nextAfterID` holds either).
            o.member(request.newestFirst ? "next_before_id" : "next_after_id") { w in
                if let next = page.nextAfterID { w.integer(next) } else { w.null() }
            }
        }
        return w
    }
}
