/// How a handler's attempt ended, as the process reported it.
public enum HandlerExit: Hashable, Sendable {
    /// The process exited with this status.
    case exited(code: Int32)
    /// A signal killed the process.
    case signaled(signal: Int32)
    /// The attempt's timeout passed (the process group was then stopped).
    case timedOut
}

/// What an ended attempt means for the job.
public enum AttemptVerdict: Hashable, Sendable {
    case succeeded
    /// Retried after the backoff if attempts remain, else `failed`.
    case retryableFailure
    /// `failed` at once, no retry.
    case permanentFailure
}

extension HandlerExit {
    /// `EX_TEMPFAIL` from sysexits.h: try again later.
    public static let temporaryFailureCode: Int32 = 75
    /// `EX_USAGE` ... `EX_CONFIG` from sysexits.h.
    public static let sysexitsRange: ClosedRange<Int32> = 64...78

    /// The sysexits convention of mail queues (DAEMON.md, "The command-handler
    /// contract"): 0 succeeds; 64-78 except 75 fail for good; anything
    /// else, a signal or a timeout is worth another attempt.
    public var verdict: AttemptVerdict {
        switch self {
        case .exited(code: 0):
            .succeeded
        case .exited(let code) where Self.sysexitsRange.contains(code) && code != Self.temporaryFailureCode:
            .permanentFailure
        case .exited, .signaled, .timedOut:
            .retryableFailure
        }
    }
}
