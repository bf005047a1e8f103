/// One failed attempt: the shape of the job object's `error` and of each
/// entry of `errors` (PROTOCOL.md, "The job object").
public struct JobFailure: Hashable, Sendable, Codable {
    public var message: String
    public var exitCode: Int?
    public var signal: Int?
    public var stderr: String?
    public var at: Timestamp
    /// What an external worker's `fail` gave as `details` (any JSON).
    public var details: RawJSON?

    /// The most failures a job keeps: older ones are dropped.
    public static let historyLimit = 20

    /// The message recorded for an attempt cut short by a crash or stop of the daemon.
    public static let interruptedMessage = "daemon stopped during the attempt"

    public init(message: String, exitCode: Int? = nil, signal: Int? = nil, stderr: String? = nil, at: Timestamp, details: RawJSON? = nil) {
        self.message = message
        self.exitCode = exitCode
        self.signal = signal
        self.stderr = stderr
        self.at = at
        self.details = details
    }

    enum CodingKeys: String, CodingKey {
        case message
        case exitCode = "exit_code"
        case signal
        case stderr
        case at
        case details
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        message = try c.decode(String.self, forKey: .message)
        exitCode = try c.decodeIfPresent(Int.self, forKey: .exitCode)
        signal = try c.decodeIfPresent(Int.self, forKey: .signal)
        stderr = try c.decodeIfPresent(String.self, forKey: .stderr)
        let text = try c.decode(String.self, forKey: .at)
        guard let at = Timestamp(rfc3339: text) else {
            throw DecodingError.dataCorruptedError(forKey: .at, in: c, debugDescription: "not an RFC 3339 time: \(text)")
        }
        self.at = at
        // Stored as its JSON text: the history column is encoded with Codable.
        details = try c.decodeIfPresent(String.self, forKey: .details).map(RawJSON.init(validatedText:))
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(message, forKey: .message)
        try c.encode(exitCode, forKey: .exitCode)
        try c.encode(signal, forKey: .signal)
        try c.encode(stderr, forKey: .stderr)
        try c.encode(at.rfc3339, forKey: .at)
        try c.encodeIfPresent(details?.text, forKey: .details)
    }
}

extension Array where Element == JobFailure {
    /// This history with `failure` added, keeping the newest `JobFailure.historyLimit`.
    public func appending(failure: JobFailure) -> [JobFailure] {
        Array((self + [failure]).suffix(JobFailure.historyLimit))
    }
}
