/// A job as stored: every field of the protocol's job object, plus the lease.
public struct Job: Hashable, Sendable {
    public var id: JobID
    public var queue: String
    public var handler: String
    public var payload: RawJSON
    public var state: JobState
    public var priority: Int
    /// Attempts started, the running one included.
    public var attempts: Int
    public var maxAttempts: Int
    public var uniqueKey: String?
    public var tags: [String]
    public var createdAt: Timestamp
    public var runAt: Timestamp
    /// The start of the latest attempt.
    public var startedAt: Timestamp?
    /// When the job became terminal; nil while it is not.
    public var finishedAt: Timestamp?
    public var timeoutMs: Int64
    public var result: RawJSON?
    public var resultTruncated: Bool
    /// One entry per failed attempt, oldest first, at most `JobFailure.historyLimit`.
    public var errors: [JobFailure]
    /// The daemon run that holds the job while it is `running`; nil otherwise.
    public var leaseOwner: String?
    /// The lease of a running external job (WORKERS.md); nil for the daemon's own.
    public var lease: Lease?
    /// What the latest heartbeat reported, if any.
    public var progress: RawJSON?
    /// The schedule whose tick enqueued the job (SCHEDULING.md), if any.
    public var schedule: String?
    /// The jobs it was enqueued after (SCHEDULING.md, "Dependencies"); empty for none.
    public var after: [JobID]
    /// Whether some job was enqueued after this one.
    public var hasDependents: Bool
    /// At most the handler's `key_concurrency` jobs with this key run at once.
    public var concurrencyKey: String?

    public init(
        id: JobID, queue: String, handler: String, payload: RawJSON, state: JobState,
        priority: Int, attempts: Int, maxAttempts: Int, uniqueKey: String?, tags: [String],
        createdAt: Timestamp, runAt: Timestamp, startedAt: Timestamp?, finishedAt: Timestamp?,
        timeoutMs: Int64, result: RawJSON?, resultTruncated: Bool, errors: [JobFailure], leaseOwner: String?,
        lease: Lease? = nil, progress: RawJSON? = nil, schedule: String? = nil, after: [JobID] = [], hasDependents: Bool = false,
        concurrencyKey: String? = nil
    ) {
        self.id = id
        self.queue = queue
        self.handler = handler
        self.payload = payload
        self.state = state
        self.priority = priority
        self.attempts = attempts
        self.maxAttempts = maxAttempts
        self.uniqueKey = uniqueKey
        self.tags = tags
        self.createdAt = createdAt
        self.runAt = runAt
        self.startedAt = startedAt
        self.finishedAt = finishedAt
        self.timeoutMs = timeoutMs
        self.result = result
        self.resultTruncated = resultTruncated
        self.errors = errors
        self.leaseOwner = leaseOwner
        self.lease = lease
        self.progress = progress
        self.schedule = schedule
        self.after = after
        self.hasDependents = hasDependents
        self.concurrencyKey = concurrencyKey
    }

    /// The last failure, or nil: the job object's `error`.
    public var error: JobFailure? { errors.last }
}

/// The lease of an external worker on the running attempt of a job.
public struct Lease: Hashable, Sendable {
    /// The fencing token of this attempt: only the reserver knows it.
    public var token: String
    /// The name the worker gave, if any.
    public var worker: String?
    public var expiresAt: Timestamp
    /// The lease length the attempt was reserved with (a heartbeat's default).
    public var leaseMs: Int64

    public init(token: String, worker: String?, expiresAt: Timestamp, leaseMs: Int64) {
        self.token = token
        self.worker = worker
        self.expiresAt = expiresAt
        self.leaseMs = leaseMs
    }
}
