import JobCore

/// The answer to `enqueue`.
public struct EnqueueOutcome: Hashable, Sendable {
    public var id: JobID
    public var state: JobState
    /// True when a job with the same `unique_key` was not terminal: nothing was created.
    public var duplicate: Bool

    public init(id: JobID, state: JobState, duplicate: Bool) {
        self.id = id
        self.state = state
        self.duplicate = duplicate
    }
}

/// The answer to `enqueueAndClaim`.
public struct EnqueueAndClaim: Hashable, Sendable {
    public var outcome: EnqueueOutcome
    /// The jobs claimed (now `running` under this run's lease).
    public var claimed: [Job]

    public init(outcome: EnqueueOutcome, claimed: [Job]) {
        self.outcome = outcome
        self.claimed = claimed
    }
}

/// The answer to `enqueueBatch`, in the order of the jobs given.
public struct BatchEnqueueOutcome: Hashable, Sendable {
    public var ids: [JobID]
    public var duplicates: [Bool]

    public init(ids: [JobID], duplicates: [Bool]) {
        self.ids = ids
        self.duplicates = duplicates
    }
}

/// What `claim` may take: at most `maxJobs` in all, and at most the free
/// slots of each queue.
public struct ClaimRequest: Hashable, Sendable {
    /// Jobs to start now: the free worker slots.
    public var maxJobs: Int
    /// Free slots of the queues the config names.
    public var slotsPerQueue: [String: Int]
    /// Free slots of any other queue; nil means "as many as `maxJobs`".
    public var slotsForOtherQueues: Int?
    /// Jobs to claim beyond the free slots, to start as slots free up
    /// (claimed ahead: `running` with no `started_at` until they start).
    public var ahead: Int
    /// Rate-limited handlers (SCHEDULING.md): how many of their jobs may
    /// start now. Their jobs, and those of `startOnlyQueues`, are never
    /// claimed ahead.
    public var handlerBudgets: [String: Int]
    /// Rate-limited queues (their budget is folded into `slotsPerQueue`).
    public var startOnlyQueues: Set<String>

    public init(maxJobs: Int, slotsPerQueue: [String: Int] = [:], slotsForOtherQueues: Int? = nil, ahead: Int = 0,
                handlerBudgets: [String: Int] = [:], startOnlyQueues: Set<String> = []) {
        self.maxJobs = maxJobs
        self.slotsPerQueue = slotsPerQueue
        self.slotsForOtherQueues = slotsForOtherQueues
        self.ahead = ahead
        self.handlerBudgets = handlerBudgets
        self.startOnlyQueues = startOnlyQueues
    }

    /// Handlers whose jobs may not start now: the claim passes over them.
    public var exhaustedHandlers: [String] { handlerBudgets.filter { $0.value <= 0 }.keys.sorted() }

    /// Jobs of `queue` that may start now.
    public func slots(for queue: String) -> Int {
        max(0, min(maxJobs, slotsPerQueue[queue] ?? slotsForOtherQueues ?? maxJobs))
    }

    /// Jobs of `queue` this claim may take, to start now or ahead.
    public func limit(for queue: String) -> Int {
        slots(for: queue) + (startOnlyQueues.contains(queue) ? 0 : ahead)
    }
}

/// The answer to `cancel`.
public struct CancelOutcome: Hashable, Sendable {
    /// The job, now `cancelled`.
    public var job: Job
    /// Its state before: `running` means a handler is to be stopped.
    public var previousState: JobState

    public init(job: Job, previousState: JobState) {
        self.job = job
        self.previousState = previousState
    }
}

/// The counts of one queue for `stats`.
public struct QueueStats: Hashable, Sendable {
    /// Jobs per state; every state is present, 0 when none.
    public var counts: [JobState: Int]
    public var paused: Bool

    public init(counts: [JobState: Int], paused: Bool) {
        self.counts = counts
        self.paused = paused
    }
}

/// The filters and cursor of `list`.
public struct ListFilter: Hashable, Sendable {
    public var queue: String?
    public var state: JobState?
    public var handler: String?
    public var tag: String?
    /// Only jobs with an id above this one.
    public var afterID: Int64
    public var limit: Int
    /// Decreasing id order, below `beforeID` when set (the dashboard's "newest first").
    public var newestFirst = false
    public var beforeID: Int64?

    public init(queue: String? = nil, state: JobState? = nil, handler: String? = nil, tag: String? = nil,
                afterID: Int64 = 0, limit: Int = 100) {
        self.queue = queue
        self.state = state
        self.handler = handler
        self.tag = tag
        self.afterID = afterID
        self.limit = limit
    }
}

/// One page of `list`.
public struct JobPage: Hashable, Sendable {
    public var jobs: [Job]
    /// The cursor of the next page; nil on the last page.
    public var nextAfterID: Int64?

    public init(jobs: [Job], nextAfterID: Int64?) {
        self.jobs = jobs
        self.nextAfterID = nextAfterID
    }
}

/// What the writer has done since the store opened (`stats.storage`).
public struct WriterCounters: Hashable, Sendable {
    /// Transactions committed: with `durability: full`, one fsync each.
    public var commits: Int
    /// Write requests those transactions held.
    public var writes: Int
    /// Bytes appended to the WAL by those commits (pages only, not the 24-byte frame headers).
    public var walBytes: Int
    public var pageSize: Int

    public init(commits: Int, writes: Int, walBytes: Int, pageSize: Int) {
        self.commits = commits
        self.writes = writes
        self.walBytes = walBytes
        self.pageSize = pageSize
    }
}
