/// Why an attempt failed, as `/metrics` labels it (OBSERVABILITY.md,
/// `jobqueue_attempts_failed_total`).
public enum FailureReason: String, CaseIterable, Sendable {
    /// The command exited with a non-zero status.
    case exit
    /// The command was killed by a signal.
    case signal
    /// The attempt ran past its `timeout_ms`.
    case timeout
    /// An external worker's lease ran out.
    case leaseExpired = "lease_expired"
    /// The daemon stopped or crashed during the attempt.
    case interrupted
    /// Anything else: a built-in handler's error, a worker's `fail`, a command that could not start.
    case error
}

extension JobFailure {
    /// The kind of failure this is. Timeouts and interruptions are told by
    /// their message first: a timed-out command was also killed by a signal.
    public var reason: FailureReason {
        if message == Self.interruptedMessage { return .interrupted }
        if message.hasPrefix(Self.timeoutMessagePrefix) { return .timeout }
        if message == Self.leaseExpiredMessage { return .leaseExpired }
        if signal != nil { return .signal }
        if exitCode != nil { return .exit }
        return .error
    }

    /// How every timed-out attempt's message starts ("timed out after N ms").
    public static let timeoutMessagePrefix = "timed out after "
    /// The message of an external attempt whose lease ran out before its deadline.
    public static let leaseExpiredMessage = "lease expired"
}
