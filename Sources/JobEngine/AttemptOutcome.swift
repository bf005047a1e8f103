import JobCore

/// How one attempt of a job ended, before it is written to the store.
public enum AttemptOutcome: Sendable, Equatable {
    case succeeded(result: RawJSON?, truncated: Bool)
    /// `permanent`: no retry, whatever attempts remain.
    case failed(JobFailure, permanent: Bool)
}
