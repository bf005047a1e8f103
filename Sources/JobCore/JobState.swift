/// The states of a job (PROTOCOL.md, "States", and SCHEDULING.md's `blocked`).
public enum JobState: String, CaseIterable, Sendable, Codable, CustomStringConvertible {
    /// Waiting for the jobs it was enqueued `after` to succeed.
    case blocked
    /// Waiting for its `run_at` (enqueued with a delay).
    case scheduled
    /// Ready; waiting for a free worker.
    case queued
    /// A worker holds it under a lease.
    case running
    /// An attempt failed; waiting for its backoff to end, then `queued` again.
    case retrying
    /// Finished with success.
    case succeeded
    /// Attempts exhausted, or a permanent failure (the dead-letter set).
    case failed
    /// Cancelled by a client.
    case cancelled

    /// A terminal state never changes again, except by an explicit `retry`
    /// of a `failed` or `cancelled` job.
    public var isTerminal: Bool {
        switch self {
        case .succeeded, .failed, .cancelled: true
        case .blocked, .scheduled, .queued, .running, .retrying: false
        }
    }

    /// The states that are not terminal: the ones that count against
    /// `max_queued_jobs` and that hold a `unique_key`.
    public static let active: [JobState] = allCases.filter { !$0.isTerminal }

    /// The states that are terminal.
    public static let terminal: [JobState] = allCases.filter(\.isTerminal)

    /// The states that wait for a time (`run_at`) before they become `queued`.
    public static let waiting: [JobState] = [.scheduled, .retrying]

    public var description: String { rawValue }
}
