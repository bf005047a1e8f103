import JobCore
import Synchronization

/// What the writer counts for `/metrics` and the dashboard's chart
/// (OBSERVABILITY.md). Only the writer thread records, after the
/// transaction that made the events commits (a rolled-back request counts
/// nothing); a scrape reads from any thread. Recording takes no lock and,
/// once a (queue, handler) pair has been seen, allocates nothing: the
/// counters are atomics, found through a dictionary only the writer uses.
public final class StoreMetrics: @unchecked Sendable {
    /// 1 ms … 1 h: the range of job queues' waits and attempts.
    public static let jobSecondsBounds: [Double] = [
        0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600,
    ]
    /// 100 µs … 1 s: commits and checkpoints.
    public static let storageSecondsBounds: [Double] = [
        0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1,
    ]
    public static let writesPerCommitBounds: [Double] = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024]
    /// Label values stay bounded: pairs past this many are counted under `_other`.
    public static let maxPairs = 1024
    public static let overflowLabel = "_other"

    public let commitDuration = AtomicHistogram(bounds: storageSecondsBounds, unitsPerSecond: 1e9)
    public let checkpointDuration = AtomicHistogram(bounds: storageSecondsBounds, unitsPerSecond: 1e9)
    public let writesPerCommit = AtomicHistogram(bounds: writesPerCommitBounds, unitsPerSecond: 1)
    private let commitCount = Atomic<Int>(0)
    public var commits: Int { commitCount.load(ordering: .relaxed) }

    /// Jobs finished per minute, the last hour (the dashboard's chart).
    let minutes = FinishedPerMinute()

    // The writer's own index of the pairs and queues (never read elsewhere).
    private var pairIndex: [PairKey: PairCounters] = [:]
    private var queueIndex: [String: AtomicHistogram] = [:]
    // What a scrape lists: appended to under the lock, only when a new label value appears.
    private let published = Mutex(Published())

    private struct Published: Sendable {
        var pairs: [PairCounters] = []
        var queueWaits: [(queue: String, histogram: AtomicHistogram)] = []
    }

    private struct PairKey: Hashable {
        var queue: String
        var handler: String
    }

    public init() {}

    // MARK: recording (the writer thread only)

    package func recordCommit(nanos: UInt64, writes: Int) {
        commitCount.add(1, ordering: .relaxed)
        commitDuration.record(Int64(clamping: nanos))
        writesPerCommit.record(Int64(writes))
    }

    func recordCheckpoint(nanos: UInt64) {
        checkpointDuration.record(Int64(clamping: nanos))
    }

    package func record(_ events: ArraySlice<MetricEvent>, at now: Timestamp) {
        for event in events {
            let pair = counters(queue: event.queue, handler: event.handler)
            switch event.kind {
            case .enqueued:
                pair.enqueued.add(1, ordering: .relaxed)
            case .finished(let state):
                pair.finished[PairCounters.finishedIndex(state)].add(1, ordering: .relaxed)
                minutes.add(state, at: now)
            case .attemptFailed(let reason):
                pair.failedAttempts[PairCounters.reasonIndex(reason)].add(1, ordering: .relaxed)
            case .attemptEnded(let milliseconds):
                pair.duration.record(milliseconds)
            case .started(let waitMilliseconds):
                queueWait(event.queue).record(waitMilliseconds)
            }
        }
    }

    private func counters(queue: String, handler: String) -> PairCounters {
        if let known = pairIndex[PairKey(queue: queue, handler: handler)] { return known }
        let key = pairIndex.count < Self.maxPairs
            ? PairKey(queue: queue, handler: handler) : PairKey(queue: Self.overflowLabel, handler: Self.overflowLabel)
        if let overflow = pairIndex[key] { return overflow }
        let fresh = PairCounters(queue: key.queue, handler: key.handler)
        pairIndex[key] = fresh
        published.withLock { $0.pairs.append(fresh) }
        return fresh
    }

    private func queueWait(_ queue: String) -> AtomicHistogram {
        if let known = queueIndex[queue] { return known }
        let name = queueIndex.count < Self.maxPairs ? queue : Self.overflowLabel
        if let overflow = queueIndex[name] { return overflow }
        let fresh = AtomicHistogram(bounds: Self.jobSecondsBounds, unitsPerSecond: 1000)
        queueIndex[name] = fresh
        published.withLock { $0.queueWaits.append((name, fresh)) }
        return fresh
    }

    // MARK: reading (any thread)

    /// Every (queue, handler) pair seen since the daemon started.
    public func pairs() -> [PairSnapshot] {
        published.withLock { $0.pairs }.map { $0.snapshot() }
    }

    /// The queue-wait histogram of every queue a job started in.
    public func queueWaits() -> [(queue: String, wait: HistogramSnapshot)] {
        published.withLock { $0.queueWaits }.map { ($0.queue, $0.histogram.snapshot()) }
    }

    /// Jobs finished in each of the last 60 minutes, oldest first (the last is the current minute).
    public func finishedPerMinute(now: Timestamp) -> [FinishedInMinute] {
        minutes.lastHour(now: now)
    }
}

/// The counters of one (queue, handler) pair.
final class PairCounters: @unchecked Sendable {
    static let finishedStates: [JobState] = [.succeeded, .failed, .cancelled]

    let queue: String
    let handler: String
    let enqueued = Atomic<Int>(0)
    let finished = AtomicCounters(count: finishedStates.count)
    let failedAttempts = AtomicCounters(count: FailureReason.allCases.count)
    let duration = AtomicHistogram(bounds: StoreMetrics.jobSecondsBounds, unitsPerSecond: 1000)

    init(queue: String, handler: String) {
        self.queue = queue
        self.handler = handler
    }

    static func finishedIndex(_ state: JobState) -> Int {
        switch state {
        case .succeeded: 0
        case .failed: 1
        default: 2
        }
    }

    static func reasonIndex(_ reason: FailureReason) -> Int {
        FailureReason.allCases.firstIndex(of: reason)!
    }

    func snapshot() -> PairSnapshot {
        PairSnapshot(
            queue: queue, handler: handler, enqueued: enqueued.load(ordering: .relaxed),
            finished: Dictionary(uniqueKeysWithValues: Self.finishedStates.enumerated().map { ($1, finished[$0].load(ordering: .relaxed)) }),
            failedAttempts: Dictionary(uniqueKeysWithValues: FailureReason.allCases.enumerated().map { ($1, failedAttempts[$0].load(ordering: .relaxed)) }),
            duration: duration.snapshot())
    }
}

/// One (queue, handler) pair's counts as read at one moment.
public struct PairSnapshot: Sendable {
    public var queue: String
    public var handler: String
    public var enqueued: Int
    /// By terminal state: succeeded, failed, cancelled.
    public var finished: [JobState: Int]
    public var failedAttempts: [FailureReason: Int]
    public var duration: HistogramSnapshot
}
