import JobCore

/// One thing `/metrics` counts, noted by a request inside its transaction.
package struct MetricEvent {
    package enum Kind {
        case enqueued
        case finished(JobState)
        case attemptFailed(FailureReason)
        /// One attempt ended (any way): how long it ran.
        case attemptEnded(milliseconds: Int64)
        /// An attempt started: how long after the job was due.
        case started(waitMilliseconds: Int64)
    }

    package var kind: Kind
    package var queue: String
    package var handler: String
}

/// The events of one transaction, kept until it commits. A request's own
/// events are dropped when its savepoint is rolled back. Owned by the
/// writer and reused, so that its storage is allocated once.
package final class MetricEventBuffer {
    package private(set) var events: [MetricEvent] = []
    /// Events before this index belong to requests that succeeded.
    private var kept = 0

    package init(capacity: Int = 4096) {
        events.reserveCapacity(capacity)
    }

    package func note(_ kind: MetricEvent.Kind, queue: String, handler: String) {
        events.append(MetricEvent(kind: kind, queue: queue, handler: handler))
    }

    package func requestSucceeded() { kept = events.count }

    package func requestRolledBack() { events.removeSubrange(kept...) }

    /// What the committed requests noted.
    package var committed: ArraySlice<MetricEvent> { events[..<kept] }

    package func reset() {
        events.removeAll(keepingCapacity: true)
        kept = 0
    }
}
