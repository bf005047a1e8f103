/// A job to be enqueued, with every default already resolved (the handler's
/// queue, attempts and timeout are the engine's business, not the store's).
public struct NewJob: Hashable, Sendable {
    /// When the job may first run.
    public enum Start: Hashable, Sendable {
        /// At once: the job is `queued`.
        case now
        /// `delay_ms` after its creation (one clock reading).
        case after(milliseconds: Int64)
        /// At a given time (`run_at`); a time in the past means at once.
        case at(Timestamp)
    }

    public var handler: String
    public var payload: RawJSON
    public var queue: String
    public var priority: Int
    public var start: Start
    public var maxAttempts: Int
    public var timeoutMs: Int64
    public var uniqueKey: String?
    public var tags: [String]
    /// Served by external workers (`reserve`), never by the daemon's own.
    public var external: Bool
    /// The schedule whose tick this job is (set by the engine only).
    public var schedule: String?
    /// Jobs that must succeed before this one may run (`after`).
    public var after: [JobID]
    /// Entries of the same `enqueue_batch` that must succeed first (`after_index`).
    public var afterIndex: [Int]
    public var concurrencyKey: String?

    public init(
        handler: String, payload: RawJSON = .null, queue: String = "default", priority: Int = 0,
        start: Start = .now, maxAttempts: Int = 5, timeoutMs: Int64 = 60_000,
        uniqueKey: String? = nil, tags: [String] = [], external: Bool = false, schedule: String? = nil,
        after: [JobID] = [], afterIndex: [Int] = [], concurrencyKey: String? = nil
    ) {
        self.handler = handler
        self.payload = payload
        self.queue = queue
        self.priority = priority
        self.start = start
        self.maxAttempts = maxAttempts
        self.timeoutMs = timeoutMs
        self.uniqueKey = uniqueKey
        self.tags = tags
        self.external = external
        self.schedule = schedule
        self.after = after
        self.afterIndex = afterIndex
        self.concurrencyKey = concurrencyKey
    }

    /// When the job may first run, for a job created at `now`.
    public func runAt(createdAt now: Timestamp) -> Timestamp {
        switch start {
        case .now: now
        case .after(let delay): now.adding(milliseconds: delay)
        case .at(let time): time
        }
    }

    /// The state a job created at `now` starts in.
    public func initialState(createdAt now: Timestamp) -> JobState {
        runAt(createdAt: now) > now ? .scheduled : .queued
    }
}

/// The ranges of PROTOCOL.md, "Methods / enqueue".
public enum JobLimits {
    public static let priority: ClosedRange<Int> = -1000...1000
    public static let delayMs: ClosedRange<Int64> = 0...315_360_000_000
    public static let maxAttempts: ClosedRange<Int> = 1...1000
    public static let timeoutMs: ClosedRange<Int64> = 1...315_360_000_000
    public static let waitMs: ClosedRange<Int64> = 0...3_600_000
    public static let maxTags = 16
    public static let maxTagBytes = 64
    /// Queue and handler names: 1 to this many bytes.
    public static let maxNameBytes = 255
    public static let batchSize: ClosedRange<Int> = 1...10_000
    public static let defaultMaxPayloadBytes = 256 * 1024
    /// `after`: 1 to this many job ids (SCHEDULING.md).
    public static let maxAfter = 100
    public static let maxConcurrencyKeyBytes = 128
}

/// A field of a request that is out of its range, named as on the wire.
public struct JobValidationError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The protocol's name of the field (`priority`, `tags`, ...).
    public var field: String
    public var message: String

    public init(field: String, message: String) {
        self.field = field
        self.message = message
    }

    public var description: String { "\(field): \(message)" }
}

extension NewJob {
    /// Checks every field against the protocol's limits.
    public func validate(maxPayloadBytes: Int = JobLimits.defaultMaxPayloadBytes) throws(JobValidationError) {
        try Self.checkName(handler, field: "handler")
        try Self.checkName(queue, field: "queue")
        if payload.text.utf8.count > maxPayloadBytes {
            throw JobValidationError(field: "payload", message: "larger than \(maxPayloadBytes) bytes")
        }
        guard JobLimits.priority.contains(priority) else {
            throw JobValidationError(field: "priority", message: "must be within -1000...1000")
        }
        if case .after(let delay) = start, !JobLimits.delayMs.contains(delay) {
            throw JobValidationError(field: "delay_ms", message: "must be within 0...315360000000")
        }
        guard JobLimits.maxAttempts.contains(maxAttempts) else {
            throw JobValidationError(field: "max_attempts", message: "must be within 1...1000")
        }
        guard JobLimits.timeoutMs.contains(timeoutMs) else {
            throw JobValidationError(field: "timeout_ms", message: "must be within 1...315360000000")
        }
        if let key = uniqueKey, key.isEmpty {
            throw JobValidationError(field: "unique_key", message: "must not be empty")
        }
        guard tags.count <= JobLimits.maxTags else {
            throw JobValidationError(field: "tags", message: "at most \(JobLimits.maxTags) tags")
        }
        for tag in tags where tag.isEmpty || tag.utf8.count > JobLimits.maxTagBytes {
            throw JobValidationError(field: "tags", message: "each tag must be 1 to \(JobLimits.maxTagBytes) bytes")
        }
        if after.count + afterIndex.count > JobLimits.maxAfter {
            throw JobValidationError(field: "after", message: "at most \(JobLimits.maxAfter) jobs")
        }
        if let key = concurrencyKey, key.isEmpty || key.utf8.count > JobLimits.maxConcurrencyKeyBytes {
            throw JobValidationError(field: "concurrency_key", message: "must be 1 to \(JobLimits.maxConcurrencyKeyBytes) bytes")
        }
    }

    private static func checkName(_ name: String, field: String) throws(JobValidationError) {
        guard !name.isEmpty, name.utf8.count <= JobLimits.maxNameBytes else {
            throw JobValidationError(field: field, message: "must be 1 to \(JobLimits.maxNameBytes) bytes")
        }
    }
}
