/// Something that happens to a job. Every state change of the store is one
/// of these, and `JobState.after(_:)` is the only place that says which
/// change each one makes.
public enum JobEvent: String, CaseIterable, Sendable {
    /// Its `run_at` has come: `scheduled`/`retrying` -> `queued`.
    case becameDue
    /// A worker took it: `queued` -> `running`.
    case claimed
    /// The handler succeeded: `running` -> `succeeded`.
    case succeeded
    /// The attempt failed and will be retried after a backoff: `running` -> `retrying`.
    case failedWillRetryLater
    /// The attempt failed and will be retried at once (zero backoff): `running` -> `queued`.
    case failedWillRetryNow
    /// The attempt failed for good (permanent failure or no attempts left): `running` -> `failed`.
    case failedForGood
    /// A client cancelled it: any non-terminal state -> `cancelled`.
    case cancelled
    /// A client asked for a new round of attempts: `failed`/`cancelled` -> `queued`.
    case retried
    /// Every job it was enqueued after has succeeded, its `run_at` has come: `blocked` -> `queued`.
    case unblocked
    /// Every job it was enqueued after has succeeded, its `run_at` is ahead: `blocked` -> `scheduled`.
    case unblockedUntilRunAt
    /// A job it was enqueued after failed or was cancelled: `blocked` -> `cancelled`.
    case dependencyFailed
    /// Retried while a job it was enqueued after has not succeeded: `failed`/`cancelled` -> `blocked`.
    case retriedBlocked
}

extension JobState {
    /// The state a job in this state moves to on `event`, or nil when the
    /// event is not allowed in this state.
    public func after(_ event: JobEvent) -> JobState? {
        switch (self, event) {
        case (.scheduled, .becameDue), (.retrying, .becameDue): .queued
        case (.queued, .claimed): .running
        case (.running, .succeeded): .succeeded
        case (.running, .failedWillRetryLater): .retrying
        case (.running, .failedWillRetryNow): .queued
        case (.running, .failedForGood): .failed
        case (.blocked, .cancelled), (.scheduled, .cancelled), (.queued, .cancelled),
             (.running, .cancelled), (.retrying, .cancelled): .cancelled
        case (.failed, .retried), (.cancelled, .retried): .queued
        case (.blocked, .unblocked): .queued
        case (.blocked, .unblockedUntilRunAt): .scheduled
        case (.blocked, .dependencyFailed): .cancelled
        case (.failed, .retriedBlocked), (.cancelled, .retriedBlocked): .blocked
        default: nil
        }
    }

    /// Whether some event moves a job from this state to `target`.
    public func canMove(to target: JobState) -> Bool {
        JobEvent.allCases.contains { after($0) == target }
    }
}

extension JobEvent {
    /// The states in which this event is allowed. The store guards each
    /// UPDATE with exactly these states.
    public var allowedSources: [JobState] {
        JobState.allCases.filter { $0.after(self) != nil }
    }

    /// The state this event leads to (the same from every allowed source).
    public var target: JobState {
        allowedSources.compactMap { $0.after(self) }.first!
    }
}
