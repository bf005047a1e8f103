import JobCore
import JobRPC

/// A job reserved by this worker: the job and its lease (with the token).
public struct ReservedJob: Sendable {
    public var job: Job
    public var token: String
    public var expiresAt: Timestamp
}

/// External workers' calls (WORKERS.md). A call whose token no longer holds
/// the job fails with `JobClientError.rpc` of code `.leaseLost` (1007).
extension JobClient {
    /// Reserves up to `maxJobs` jobs of `handlers`; with `waitMs` waits for
    /// one that long (an empty answer when none came).
    public func reserve(handlers: [String], maxJobs: Int = 1, leaseMs: Int64? = nil, waitMs: Int64 = 0,
                        worker: String? = nil) async throws(JobClientError) -> [ReservedJob] {
        var w = JSONWriter()
        w.object { o in
            o.member("handlers") { $0.array(handlers) { w, h in w.string(h) } }
            o.member("max_jobs") { $0.integer(maxJobs) }
            if let leaseMs { o.member("lease_ms") { $0.integer(leaseMs) } }
            o.member("wait_ms") { $0.integer(waitMs) }
            if let worker { o.member("worker") { $0.string(worker) } }
        }
        let result = try await call("reserve", params: w)
        var reserved: [ReservedJob] = []
        for element in result.member("jobs")?.elements ?? [] {
            guard let job = JobJSON.read(element), let lease = job.lease, !lease.token.isEmpty else {
                throw .invalidResponse("reserve: a job without its lease")
            }
            reserved.append(ReservedJob(job: job, token: lease.token, expiresAt: lease.expiresAt))
        }
        return reserved
    }

    /// Extends the lease (to now + `leaseMs`, default: the reserved lease);
    /// stores `progress`. Returns the new expiry.
    @discardableResult
    public func heartbeat(_ id: JobID, token: String, leaseMs: Int64? = nil, progress: RawJSON? = nil) async throws(JobClientError) -> Timestamp {
        var w = JSONWriter()
        w.object { o in
            o.member("id") { $0.integer(id.rawValue) }
            o.member("token") { $0.string(token) }
            if let leaseMs { o.member("lease_ms") { $0.integer(leaseMs) } }
            if let progress { o.member("progress") { $0.raw(progress) } }
        }
        let result = try await call("heartbeat", params: w)
        guard let expires = result.member("expires_at")?.string.flatMap(Timestamp.init(rfc3339:)) else {
            throw .invalidResponse("heartbeat result")
        }
        return expires
    }

    /// The attempt succeeded; returns the job after the commit.
    @discardableResult
    public func complete(_ id: JobID, token: String, result: RawJSON? = nil) async throws(JobClientError) -> Job {
        var w = JSONWriter()
        w.object { o in
            o.member("id") { $0.integer(id.rawValue) }
            o.member("token") { $0.string(token) }
            if let result { o.member("result") { $0.raw(result) } }
        }
        return try readJob(try await call("complete", params: w))
    }

    /// The attempt failed: retried with backoff, or `failed` when `retry` is
    /// false or the attempts are used up.
    @discardableResult
    public func fail(_ id: JobID, token: String, message: String, retry: Bool = true, details: RawJSON? = nil) async throws(JobClientError) -> Job {
        var w = JSONWriter()
        w.object { o in
            o.member("id") { $0.integer(id.rawValue) }
            o.member("token") { $0.string(token) }
            o.member("error") { w in
                w.object { e in
                    e.member("message") { $0.string(message) }
                    e.member("retry") { $0.bool(retry) }
                    if let details { e.member("details") { $0.raw(details) } }
                }
            }
        }
        return try readJob(try await call("fail", params: w))
    }

    /// The connections that serve jobs now (`workers`, as the daemon sent it).
    public func workers() async throws(JobClientError) -> JSONValue {
        try await call("workers")
    }

    private func readJob(_ value: JSONValue) throws(JobClientError) -> Job {
        guard let job = JobJSON.read(value) else { throw .invalidResponse("not a job object") }
        return job
    }
}
