import JobCore

/// `enqueue` params (and one entry of `enqueue_batch`), ranges checked.
/// Defaults that depend on the handler (queue, attempts, timeout) stay nil
/// here: the server resolves them from the config.
public struct EnqueueParams: Sendable {
    public var handler: String
    public var payload: RawJSON
    public var queue: String?
    public var priority: Int
    public var start: NewJob.Start
    public var maxAttempts: Int?
    public var timeoutMs: Int64?
    public var uniqueKey: String?
    public var tags: [String]
    public var waitMs: Int64?
    /// Jobs that must succeed first (SCHEDULING.md).
    public var after: [JobID]
    /// Earlier entries of the same `enqueue_batch` that must succeed first.
    public var afterIndex: [Int]
    public var concurrencyKey: String?

    static let commonFields: Set<String> = [
        "handler", "payload", "queue", "priority", "delay_ms", "run_at", "max_attempts", "timeout_ms", "unique_key", "tags",
        "after", "concurrency_key",
    ]
    static let batchEntryFields = commonFields.union(["after_index"])
    static let fields = commonFields.union(["wait_ms"])

    public init(_ value: JSONValue?, batchIndex: Int? = nil) throws(RPCError) {
        let p = try Params(value, allowed: batchIndex == nil ? Self.fields : Self.batchEntryFields, index: batchIndex)
        func fail(_ field: String, _ problem: String) -> RPCError { .invalidParam(field, problem, index: batchIndex) }

        handler = try p.requiredString("handler")
        guard !handler.isEmpty, handler.utf8.count <= JobLimits.maxNameBytes else { throw fail("handler", "must be 1 to 255 bytes") }
        payload = p.raw("payload").map { RawJSON(validatedText: $0.rawText) } ?? .null
        queue = try p.string("queue")
        if let queue, queue.isEmpty || queue.utf8.count > JobLimits.maxNameBytes { throw fail("queue", "must be 1 to 255 bytes") }
        priority = Int(try p.integer("priority", in: Int64(JobLimits.priority.lowerBound)...Int64(JobLimits.priority.upperBound)) ?? 0)

        let delay = try p.integer("delay_ms", in: JobLimits.delayMs)
        let runAtText = try p.string("run_at")
        switch (delay, runAtText) {
        case (.some, .some): throw fail("run_at", "give delay_ms or run_at, not both")
        case (.some(let d), nil): start = .after(milliseconds: d)
        case (nil, .some(let text)):
            guard let time = Timestamp(rfc3339: text) else { throw fail("run_at", "expected an RFC 3339 time such as 2026-11-29T10:15:30Z") }
            start = .at(time)
        case (nil, nil): start = .now
        }

        maxAttempts = try p.integer("max_attempts", in: Int64(JobLimits.maxAttempts.lowerBound)...Int64(JobLimits.maxAttempts.upperBound)).map { Int($0) }
        timeoutMs = try p.integer("timeout_ms", in: JobLimits.timeoutMs)
        uniqueKey = try p.string("unique_key")
        if uniqueKey?.isEmpty == true { throw fail("unique_key", "must not be empty") }
        tags = try p.stringArray("tags") ?? []
        if tags.count > JobLimits.maxTags { throw fail("tags", "at most \(JobLimits.maxTags) tags") }
        if tags.contains(where: { $0.isEmpty || $0.utf8.count > JobLimits.maxTagBytes }) {
            throw fail("tags", "each tag must be 1 to \(JobLimits.maxTagBytes) bytes")
        }
        waitMs = try p.integer("wait_ms", in: JobLimits.waitMs)

        after = try Self.integers(p, "after", index: batchIndex) { $0 >= 1 }.map { JobID($0) }
        let entry = Int64(batchIndex ?? 0)
        afterIndex = try Self.integers(p, "after_index", index: batchIndex,
                                       expected: "indexes of earlier entries of the batch (0 to \(entry - 1))") { $0 >= 0 && $0 < entry }
            .map { Int($0) }
        if p.has("after") && after.isEmpty { throw fail("after", "must name 1 to \(JobLimits.maxAfter) jobs") }
        if after.count + afterIndex.count > JobLimits.maxAfter { throw fail("after", "at most \(JobLimits.maxAfter) jobs") }
        concurrencyKey = try p.string("concurrency_key")
        if let key = concurrencyKey, key.isEmpty || key.utf8.count > JobLimits.maxConcurrencyKeyBytes {
            throw fail("concurrency_key", "must be 1 to \(JobLimits.maxConcurrencyKeyBytes) bytes")
        }
    }

    /// An array of integers that each pass `valid` (an absent key: empty).
    private static func integers(_ p: Params, _ key: String, index: Int?, expected: @autoclosure () -> String = "job ids (positive integers)",
                                 valid: (Int64) -> Bool) throws(RPCError) -> [Int64] {
        guard let elements = try p.array(key) else { return [] }
        var values: [Int64] = []
        for element in elements {
            guard let value = element.integer, valid(value) else {
                throw RPCError.invalidParam(key, "expected an array of \(expected())", index: index)
            }
            values.append(value)
        }
        return values
    }
}

/// `enqueue_batch` params.
public struct EnqueueBatchParams: Sendable {
    public var jobs: [EnqueueParams]

    public init(_ value: JSONValue?) throws(RPCError) {
        let p = try Params(value, allowed: ["jobs"])
        guard let entries = try p.array("jobs") else { throw RPCError.invalidParam("jobs", "required") }
        guard JobLimits.batchSize.contains(entries.count) else {
            throw RPCError.invalidParam("jobs", "must hold 1 to \(JobLimits.batchSize.upperBound) jobs")
        }
        var jobs: [EnqueueParams] = []
        jobs.reserveCapacity(entries.count)
        for (index, entry) in entries.enumerated() {
            jobs.append(try EnqueueParams(entry, batchIndex: index))
        }
        self.jobs = jobs
    }
}

/// `get`, `cancel`, `retry`: one job id.
public struct JobIDParams: Sendable {
    public var id: JobID

    public init(_ value: JSONValue?) throws(RPCError) {
        let p = try Params(value, allowed: ["id"])
        id = JobID(try p.requiredInteger("id", in: 1...Int64.max))
    }
}

/// `wait`.
public struct WaitParams: Sendable {
    public static let defaultTimeoutMs: Int64 = 30_000
    public var id: JobID
    public var timeoutMs: Int64

    public init(_ value: JSONValue?) throws(RPCError) {
        let p = try Params(value, allowed: ["id", "timeout_ms"])
        id = JobID(try p.requiredInteger("id", in: 1...Int64.max))
        timeoutMs = try p.integer("timeout_ms", in: JobLimits.waitMs) ?? Self.defaultTimeoutMs
    }
}

/// `list`.
public struct ListParams: Sendable {
    public var queue: String?
    public var state: JobState?
    public var handler: String?
    public var tag: String?
    public var limit: Int
    public var afterID: Int64
    /// `order: "newest"`: decreasing ids, paged with `before_id`.
    public var newestFirst: Bool
    public var beforeID: Int64?

    public init(_ value: JSONValue?) throws(RPCError) {
        let p = try Params(value, allowed: ["queue", "state", "handler", "tag", "limit", "after_id", "order", "before_id"])
        queue = try p.string("queue")
        if let name = try p.string("state") {
            guard let state = JobState(rawValue: name) else {
                throw RPCError.invalidParam("state", "expected one of \(JobState.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            self.state = state
        }
        handler = try p.string("handler")
        tag = try p.string("tag")
        limit = Int(try p.integer("limit", in: 1...1000) ?? 100)
        afterID = try p.integer("after_id", in: 0...Int64.max) ?? 0
        switch try p.string("order") {
        case nil, "id": newestFirst = false
        case "newest": newestFirst = true
        default: throw RPCError.invalidParam("order", "expected \"id\" or \"newest\"")
        }
        beforeID = try p.integer("before_id", in: 1...Int64.max)
        if beforeID != nil && !newestFirst { throw RPCError.invalidParam("before_id", "only with \"order\": \"newest\" (use after_id)") }
        if afterID != 0 && newestFirst { throw RPCError.invalidParam("after_id", "not with \"order\": \"newest\" (use before_id)") }
    }
}

/// `pause`, `resume`.
public struct QueueParams: Sendable {
    public var queue: String

    public init(_ value: JSONValue?) throws(RPCError) {
        let p = try Params(value, allowed: ["queue"])
        queue = try p.requiredString("queue")
        guard !queue.isEmpty, queue.utf8.count <= JobLimits.maxNameBytes else {
            throw RPCError.invalidParam("queue", "must be 1 to 255 bytes")
        }
    }
}

/// `pause_schedule`, `resume_schedule`, `trigger_schedule`: a schedule's name.
public struct ScheduleNameParams: Sendable {
    public var name: String

    public init(_ value: JSONValue?) throws(RPCError) {
        let p = try Params(value, allowed: ["name"])
        name = try p.requiredString("name")
        guard !name.isEmpty else { throw RPCError.invalidParam("name", "must not be empty") }
    }
}

/// `stats`, `ping`: no params (an empty object or none).
public struct NoParams: Sendable {
    public init(_ value: JSONValue?) throws(RPCError) {
        _ = try Params(value, allowed: [])
    }
}

/// The range of a lease (WORKERS.md), and the most `progress` may take.
public enum LeaseLimits {
    public static let leaseMs: ClosedRange<Int64> = 1_000...3_600_000
    public static let maxJobs: ClosedRange<Int64> = 1...100
    public static let handlers: ClosedRange<Int> = 1...64
    public static let maxWorkerBytes = 128
    public static let maxProgressBytes = 4096
}

/// `reserve`.
public struct ReserveParams: Sendable {
    public var handlers: [String]
    public var maxJobs: Int
    public var leaseMs: Int64?
    public var waitMs: Int64
    public var worker: String?

    public init(_ value: JSONValue?) throws(RPCError) {
        let p = try Params(value, allowed: ["handlers", "max_jobs", "lease_ms", "wait_ms", "worker"])
        guard let handlers = try p.stringArray("handlers") else { throw RPCError.invalidParam("handlers", "required") }
        guard LeaseLimits.handlers.contains(handlers.count) else {
            throw RPCError.invalidParam("handlers", "must name 1 to \(LeaseLimits.handlers.upperBound) handlers")
        }
        if handlers.contains(where: { $0.isEmpty || $0.utf8.count > JobLimits.maxNameBytes }) {
            throw RPCError.invalidParam("handlers", "each name must be 1 to 255 bytes")
        }
        self.handlers = handlers
        maxJobs = Int(try p.integer("max_jobs", in: LeaseLimits.maxJobs) ?? 1)
        leaseMs = try p.integer("lease_ms", in: LeaseLimits.leaseMs)
        waitMs = try p.integer("wait_ms", in: JobLimits.waitMs) ?? 0
        worker = try p.string("worker")
        if let worker, worker.utf8.count > LeaseLimits.maxWorkerBytes {
            throw RPCError.invalidParam("worker", "at most \(LeaseLimits.maxWorkerBytes) bytes")
        }
    }
}

/// The id and token every call on a lease gives.
private func leaseIdentity(_ p: Params) throws(RPCError) -> (JobID, String) {
    let id = JobID(try p.requiredInteger("id", in: 1...Int64.max))
    let token = try p.requiredString("token")
    guard !token.isEmpty, token.utf8.count <= 256 else { throw RPCError.invalidParam("token", "must be 1 to 256 bytes") }
    return (id, token)
}

/// `heartbeat`.
public struct HeartbeatParams: Sendable {
    public var id: JobID
    public var token: String
    public var leaseMs: Int64?
    public var progress: RawJSON?

    public init(_ value: JSONValue?) throws(RPCError) {
        let p = try Params(value, allowed: ["id", "token", "lease_ms", "progress"])
        (id, token) = try leaseIdentity(p)
        leaseMs = try p.integer("lease_ms", in: LeaseLimits.leaseMs)
        progress = p.raw("progress").map { RawJSON(validatedText: $0.rawText) }
        if let progress, progress.text.utf8.count > LeaseLimits.maxProgressBytes {
            throw RPCError.invalidParam("progress", "at most \(LeaseLimits.maxProgressBytes) bytes of JSON")
        }
    }
}

/// `complete`.
public struct CompleteParams: Sendable {
    public var id: JobID
    public var token: String
    public var result: RawJSON?

    public init(_ value: JSONValue?) throws(RPCError) {
        let p = try Params(value, allowed: ["id", "token", "result"])
        (id, token) = try leaseIdentity(p)
        result = p.raw("result").map { RawJSON(validatedText: $0.rawText) }
    }
}

/// `fail`.
public struct FailParams: Sendable {
    public var id: JobID
    public var token: String
    public var message: String
    public var retry: Bool
    public var details: RawJSON?

    public init(_ value: JSONValue?) throws(RPCError) {
        let p = try Params(value, allowed: ["id", "token", "error"])
        (id, token) = try leaseIdentity(p)
        guard let error = p.raw("error") else { throw RPCError.invalidParam("error", "required") }
        let e = try Params(error, allowed: ["message", "retry", "details"], prefix: "error")
        message = try e.requiredString("message")
        retry = try e.bool("retry") ?? true
        details = e.raw("details").map { RawJSON(validatedText: $0.rawText) }
        if let details, details.text.utf8.count > LeaseLimits.maxProgressBytes {
            throw RPCError.invalidParam("error.details", "at most \(LeaseLimits.maxProgressBytes) bytes of JSON")
        }
    }
}
