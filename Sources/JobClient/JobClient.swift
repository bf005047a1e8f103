import Foundation
import JobCore
import JobRPC

/// A client of `jobqueued` over its Unix socket.
///
/// ```swift
/// let client = try await JobClient.connect()            // JOBQUEUE_SOCKET or the default path
/// let id = try await client.enqueue(EnqueueRequest(handler: "thumbnail", payload: RawJSON(validatedText: #"{"path":"a.png"}"#))).id
/// let job = try await client.wait(id, timeoutMs: 30_000)
/// print(job.state, job.result?.text ?? "null")
/// ```
///
/// Calls may run concurrently on one client: they share its connection and
/// their answers are matched by id, in whatever order they come.
public final class JobClient: Sendable {
    public let socketPath: String
    private let connection: Connection

    private init(socketPath: String, connection: Connection) {
        self.socketPath = socketPath
        self.connection = connection
    }

    /// The socket path used when none is given: `JOBQUEUE_SOCKET`, else the
    /// daemon's default for this user (DAEMON.md).
    public static func defaultSocketPath(environment: [String: String] = ProcessInfo.processInfo.environment) -> String {
        DefaultPaths(environment: environment, uid: getuid()).socket
    }

    /// Connects; `JobClientError.noDaemon` when nothing answers on the socket.
    public static func connect(socketPath: String? = nil) async throws(JobClientError) -> JobClient {
        let path = socketPath ?? defaultSocketPath()
        return JobClient(socketPath: path, connection: try await Connection.open(path: path))
    }

    /// Closes the connection; calls still waiting fail with `connectionClosed`.
    public func close() {
        connection.close()
    }

    /// Any method, with params as a JSON object text; returns the `result` value.
    public func call(_ method: String, params: JSONWriter? = nil) async throws(JobClientError) -> JSONValue {
        try await connection.call(method, params: params)
    }

    // MARK: - Typed methods

    /// Stores a job; returns once the daemon has committed it.
    public func enqueue(_ request: EnqueueRequest) async throws(JobClientError) -> EnqueueResult {
        let result = try await call("enqueue", params: request.params())
        guard let id = result.member("id")?.integer, let state = result.member("state")?.string.flatMap(JobState.init(rawValue:)) else {
            throw .invalidResponse("enqueue result")
        }
        return EnqueueResult(id: JobID(id), state: state, duplicate: result.member("duplicate")?.bool ?? false)
    }

    /// Submit-and-wait: the job once terminal, or as it stands after `waitMs`.
    public func enqueueAndWait(_ request: EnqueueRequest, waitMs: Int64) async throws(JobClientError) -> (job: Job, duplicate: Bool) {
        let result = try await call("enqueue", params: request.params(waitMs: waitMs))
        return (try job(result), result.member("duplicate")?.bool ?? false)
    }

    /// Stores every job or none.
    public func enqueueBatch(_ requests: [EnqueueRequest]) async throws(JobClientError) -> (ids: [JobID], duplicates: [Bool]) {
        var w = JSONWriter()
        w.object { o in o.member("jobs") { $0.array(requests) { w, r in w.raw(r.params()) } } }
        let result = try await call("enqueue_batch", params: w)
        let ids = (result.member("ids")?.elements ?? []).compactMap(\.integer).map { JobID($0) }
        let duplicates = (result.member("duplicates")?.elements ?? []).compactMap(\.bool)
        return (ids, duplicates)
    }

    public func get(_ id: JobID) async throws(JobClientError) -> Job {
        try job(try await call("get", params: idParams(id)))
    }

    /// The job once terminal, or as it stands after `timeoutMs`.
    public func wait(_ id: JobID, timeoutMs: Int64 = 30_000) async throws(JobClientError) -> Job {
        var w = JSONWriter()
        w.object { o in
            o.member("id") { $0.integer(id.rawValue) }
            o.member("timeout_ms") { $0.integer(timeoutMs) }
        }
        return try job(try await call("wait", params: w))
    }

    /// One page of jobs.
    public func list(_ query: ListQuery) async throws(JobClientError) -> (jobs: [Job], nextAfterID: Int64?) {
        let result = try await call("list", params: query.params())
        var jobs: [Job] = []
        for element in result.member("jobs")?.elements ?? [] { jobs.append(try job(element)) }
        return (jobs, result.member("next_after_id")?.integer)
    }

    /// Every job the query matches, page after page.
    public func listAll(_ query: ListQuery) -> AsyncThrowingStream<Job, any Error> {
        AsyncThrowingStream { continuation in
            let task = Task {
                var page = query
                do {
                    while true {
                        let (jobs, next) = try await list(page)
                        for job in jobs { continuation.yield(job) }
                        guard let next else { break }
                        page.afterID = next
                    }
                    continuation.finish()
                } catch {
                    continuation.finish(throwing: error)
                }
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }

    public func cancel(_ id: JobID) async throws(JobClientError) -> Job {
        try job(try await call("cancel", params: idParams(id)))
    }

    public func retry(_ id: JobID) async throws(JobClientError) -> Job {
        try job(try await call("retry", params: idParams(id)))
    }

    /// `stats`, as the daemon sent it (see PROTOCOL.md for its shape).
    public func stats() async throws(JobClientError) -> JSONValue {
        try await call("stats")
    }

    /// Pauses a queue; returns its new `paused` (true).
    @discardableResult
    public func pause(queue: String) async throws(JobClientError) -> Bool {
        try await call("pause", params: queueParams(queue)).member("paused")?.bool ?? true
    }

    @discardableResult
    public func resume(queue: String) async throws(JobClientError) -> Bool {
        try await call("resume", params: queueParams(queue)).member("paused")?.bool ?? false
    }

    /// The daemon's version and protocol.
    public func ping() async throws(JobClientError) -> (version: String, protocol: Int) {
        let result = try await call("ping")
        return (result.member("version")?.string ?? "", Int(result.member("protocol")?.integer ?? 0))
    }

    private func job(_ value: JSONValue) throws(JobClientError) -> Job {
        guard let job = JobJSON.read(value) else { throw .invalidResponse("not a job object") }
        return job
    }

    private func idParams(_ id: JobID) -> JSONWriter {
        var w = JSONWriter()
        w.object { o in o.member("id") { $0.integer(id.rawValue) } }
        return w
    }

    private func queueParams(_ queue: String) -> JSONWriter {
        var w = JSONWriter()
        w.object { o in o.member("queue") { $0.string(queue) } }
        return w
    }
}
