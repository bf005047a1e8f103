import HTTPTypes
import Hummingbird
import JobCore
import JobEngine
import JobRPC
import JobServer
import JobStore
import NIOCore

/// `/api/v1/`: each route is one socket method, with the same params,
/// results and error codes (docs/http.md). Reads are GETs (params from the
/// query), changes are POSTs (params from the path, and the JSON body for
/// `POST /api/v1/jobs`).
struct APIRoutes {
    let service: RPCService
    let engine: Engine
    let access: HTTPAccess

    /// Query parameters that are integers on the wire; every other one is a string.
    private static let integerParams: Set<String> = ["limit", "after_id", "before_id", "id"]
    /// The most a request body may hold (an enqueue's params).
    static let maxBodyBytes = 2 << 20

    func register(on router: Router<HTTPContext>) {
        let api = router.group("api/v1")
        api.get("ping") { request, context in await call("ping", request, context, .read) }
        api.get("stats") { request, context in await call("stats", request, context, .read) }
        api.get("jobs") { request, context in
            await call("list", request, context, .read, params: Self.queryParams(request))
        }
        api.post("jobs") { request, context in
            guard let body = try? await request.body.collect(upTo: Self.maxBodyBytes) else {
                return HTTPAnswer.error(RPCError(.invalidRequest, "request body too large (limit \(Self.maxBodyBytes) bytes)"))
            }
            return await call("enqueue", request, context, .write, body: Array(buffer: body))
        }
        api.get("jobs/:id") { request, context in await call("get", request, context, .read, params: idParam(context)) }
        api.post("jobs/:id/cancel") { request, context in await call("cancel", request, context, .write, params: idParam(context)) }
        api.post("jobs/:id/retry") { request, context in await call("retry", request, context, .write, params: idParam(context)) }
        api.post("queues/:name/pause") { request, context in
            await call("pause", request, context, .write, params: nameParam("queue", context))
        }
        api.post("queues/:name/resume") { request, context in
            await call("resume", request, context, .write, params: nameParam("queue", context))
        }
        api.get("schedules") { request, context in await call("schedules", request, context, .read) }
        for (action, method) in [("pause", "pause_schedule"), ("resume", "resume_schedule"), ("trigger", "trigger_schedule")] {
            api.post("schedules/:name/\(action)") { request, context in
                await call(method, request, context, .write, params: nameParam("name", context))
            }
        }
        api.get("workers") { request, context in await call("workers", request, context, .read) }
        api.get("throughput") { request, context in
            if let refusal = await access.refusal(request, context, needs: .read) { return refusal.response }
            return HTTPAnswer.json(Throughput.json(engine.store.metrics.finishedPerMinute(now: engine.clock())))
        }
    }

    /// Checks access, then runs `method` and turns its answer into HTTP.
    private func call(_ method: String, _ request: Request, _ context: HTTPContext, _ needs: HTTPAccess.Need,
                      params: JSONValue? = nil, body: [UInt8]? = nil) async -> Response {
        let caller: Caller
        switch await access.check(request, context, needs: needs) {
        case .refused(let refusal): return refusal.response
        case .allowed(let who): caller = who
        }
        var value = params
        if let body, !body.isEmpty {
            do {
                value = try JSONReader.parse(body)
            } catch {
                return HTTPAnswer.error(RPCError(.parseError, "the body is not JSON: \(error)"))
            }
        }
        switch await service.call(method, params: value, caller: caller) {
        case .success(let result): return HTTPAnswer.json(result.bytes)
        case .failure(let error): return HTTPAnswer.error(error)
        }
    }

    private func idParam(_ context: HTTPContext) -> JSONValue? {
        let text = context.parameters.get("id") ?? ""
        // Not a number: let the method refuse it with its own message.
        return Self.object([("id", text.allSatisfy(\.isNumber) && !text.isEmpty ? text : Self.quoted(text))])
    }

    private func nameParam(_ key: String, _ context: HTTPContext) -> JSONValue? {
        Self.object([(key, Self.quoted(context.parameters.get("name") ?? ""))])
    }

    /// `?state=failed&limit=50` as `{"state": "failed", "limit": 50}`.
    static func queryParams(_ request: Request) -> JSONValue? {
        var members: [(String, String)] = []
        for (key, value) in request.uri.queryParameters {
            let name = String(key)
            let text = String(value)
            let isInteger = integerParams.contains(name) && !text.isEmpty && text.allSatisfy(\.isNumber)
            members.append((name, isInteger ? text : quoted(text)))
        }
        return members.isEmpty ? nil : object(members)
    }

    private static func quoted(_ text: String) -> String {
        var w = JSONWriter()
        _ = w.string(text)
        return w.text
    }

    /// An object from members whose values are JSON text already.
    private static func object(_ members: [(String, String)]) -> JSONValue? {
        var w = JSONWriter()
        w.object { o in for (key, value) in members { o.member(key) { $0.raw(value) } } }
        return try? JSONReader.parse(w.bytes)
    }
}

/// The dashboard's chart: jobs finished per minute, the last hour.
enum Throughput {
    static func json(_ minutes: [FinishedInMinute]) -> [UInt8] {
        var w = JSONWriter(capacity: 60 * 80)
        w.object { o in
            o.member("minutes") { w in
                w.array(minutes) { w, minute in
                    w.object { o in
                        o.member("at") { $0.timestamp(minute.at) }
                        o.member("succeeded") { $0.integer(minute.succeeded) }
                        o.member("failed") { $0.integer(minute.failed) }
                        o.member("cancelled") { $0.integer(minute.cancelled) }
                    }
                }
            }
        }
        return w.bytes
    }
}
