import JobCore

/// One thing `/metrics` counts, noted by a request inside its transaction.
struct MetricEvent {
    enum Kind {
        case enqueued
        case finished(JobState)
        case attemptFailed(FailureReason)
        /// One attempt ended (any way): how long it ran.
        case attemptEnded(milliseconds: Int64)
        /// An attempt started: how long after the job was due.
        case started(waitMilliseconds: Int64)
    }

    var kind: Kind
    var queue: String
    var handler: String
}

/// The events of one transaction, kept until it commits. A request's own
/// events are dropped when its savepoint is rolled back. Owned by the
/// writer and reused, so that its storage is allocated once.
final class MetricEventBuffer {
    private(set) var events: [MetricEvent] = []
    /// Events before this index belong to requests that succeeded.
    private var kept = 0

    init() {
        events.reserveCapacity(4096)
    }

    func note(_ kind: MetricEvent.Kind, queue: String, handler: String) {
        events.append(MetricEvent(kind: kind, queue: queue, handler: handler))
    }

    func requestSucceeded() { kept = events.count }

    func requestRolledBack() { events.removeSubrange(kept...) }

    /// What the committed requests noted.
    var committed: ArraySlice<MetricEvent> { events[..<kept] }

    func reset() {
        events.removeAll(keepingCapacity: true)
        kept = 0
    }
}
