import JobCore

/// The params of `enqueue` (PROTOCOL.md); nil fields are left to the daemon's defaults.
public struct EnqueueRequest: Sendable {
    public var handler: String
    public var payload: RawJSON
    public var queue: String?
    public var priority: Int?
    public var delayMs: Int64?
    /// RFC 3339, sent as given.
    public var runAt: String?
    public var maxAttempts: Int?
    public var timeoutMs: Int64?
    public var uniqueKey: String?
    public var tags: [String]
    /// Jobs that must succeed first (SCHEDULING.md).
    public var after: [JobID]
    /// In `enqueueBatch`: earlier entries of the same batch that must succeed first.
    public var afterIndex: [Int]
    /// At most the handler's `key_concurrency` jobs with this key run at once.
    public var concurrencyKey: String?

    public init(handler: String, payload: RawJSON = .null, queue: String? = nil, priority: Int? = nil, delayMs: Int64? = nil,
                runAt: String? = nil, maxAttempts: Int? = nil, timeoutMs: Int64? = nil, uniqueKey: String? = nil, tags: [String] = [],
                after: [JobID] = [], afterIndex: [Int] = [], concurrencyKey: String? = nil) {
        self.after = after
        self.afterIndex = afterIndex
        self.concurrencyKey = concurrencyKey
        self.handler = handler
        self.payload = payload
        self.queue = queue
        self.priority = priority
        self.delayMs = delayMs
        self.runAt = runAt
        self.maxAttempts = maxAttempts
        self.timeoutMs = timeoutMs
        self.uniqueKey = uniqueKey
        self.tags = tags
    }

    /// The request as `enqueue` params (with `wait_ms` when given).
    public func params(waitMs: Int64? = nil) -> JSONWriter {
        var w = JSONWriter(capacity: 96 + payload.text.utf8.count)
        w.object { o in
            o.member("handler") { $0.string(handler) }
            o.member("payload") { $0.raw(payload) }
            if let queue { o.member("queue") { $0.string(queue) } }
            if let priority { o.member("priority") { $0.integer(priority) } }
            if let delayMs { o.member("delay_ms") { $0.integer(delayMs) } }
            if let runAt { o.member("run_at") { $0.string(runAt) } }
            if let maxAttempts { o.member("max_attempts") { $0.integer(maxAttempts) } }
            if let timeoutMs { o.member("timeout_ms") { $0.integer(timeoutMs) } }
            if let uniqueKey { o.member("unique_key") { $0.string(uniqueKey) } }
            if !tags.isEmpty { o.member("tags") { $0.array(tags) { w, t in w.string(t) } } }
            if !after.isEmpty { o.member("after") { $0.array(after) { w, id in w.integer(id.rawValue) } } }
            if !afterIndex.isEmpty { o.member("after_index") { $0.array(afterIndex) { w, i in w.integer(i) } } }
            if let concurrencyKey { o.member("concurrency_key") { $0.string(concurrencyKey) } }
            if let waitMs { o.member("wait_ms") { $0.integer(waitMs) } }
        }
        return w
    }
}

/// The answer to `enqueue`.
public struct EnqueueResult: Sendable, Equatable {
    public var id: JobID
    public var state: JobState
    public var duplicate: Bool
}

/// The filters and cursor of `list`.
public struct ListQuery: Sendable {
    public var queue: String?
    public var state: JobState?
    public var handler: String?
    public var tag: String?
    public var limit: Int?
    public var afterID: Int64?

    public init(queue: String? = nil, state: JobState? = nil, handler: String? = nil, tag: String? = nil,
                limit: Int? = nil, afterID: Int64? = nil) {
        self.queue = queue
        self.state = state
        self.handler = handler
        self.tag = tag
        self.limit = limit
        self.afterID = afterID
    }

    /// The query as `list` params.
    public func params() -> JSONWriter {
        var w = JSONWriter()
        w.object { o in
            if let queue { o.member("queue") { $0.string(queue) } }
            if let state { o.member("state") { $0.string(state.rawValue) } }
            if let handler { o.member("handler") { $0.string(handler) } }
            if let tag { o.member("tag") { $0.string(tag) } }
            if let limit { o.member("limit") { $0.integer(limit) } }
            if let afterID { o.member("after_id") { $0.integer(afterID) } }
        }
        return w
    }
}
