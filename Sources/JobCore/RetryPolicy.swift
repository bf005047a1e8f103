/// How long to wait before the next attempt of a failed job:
/// `min(initial * factor^(n-1), max)` after attempt n, spread by ±`jitter`.
public struct RetryPolicy: Hashable, Sendable {
    public var initialMs: Int64
    public var factor: Double
    public var maxMs: Int64
    /// The relative spread, 0...1: 0.2 gives a delay within ±20 %.
    public var jitter: Double

    /// The defaults of DAEMON.md: 1 s, ×2, at most 1 h, ±20 %.
    public static let `default` = RetryPolicy(initialMs: 1000, factor: 2, maxMs: 3_600_000, jitter: 0.2)

    public init(initialMs: Int64, factor: Double, maxMs: Int64, jitter: Double) {
        self.initialMs = initialMs
        self.factor = factor
        self.maxMs = maxMs
        self.jitter = jitter
    }

    /// The delay before attempt `failedAttempt + 1`, without jitter.
    public func baseDelayMs(afterAttempt failedAttempt: Int) -> Int64 {
        let exponent = Double(max(failedAttempt, 1) - 1)
        let raw = Double(initialMs) * power(factor, exponent)
        guard raw.isFinite, raw < Double(maxMs) else { return maxMs }
        return Int64(raw.rounded())
    }

    /// The delay before attempt `failedAttempt + 1`. `unitRandom` is a
    /// number in 0..<1 (0.5 means no spread); inject it to make tests exact.
    public func delayMs(afterAttempt failedAttempt: Int, unitRandom: Double) -> Int64 {
        let base = Double(baseDelayMs(afterAttempt: failedAttempt))
        let spread = base * jitter * (2 * unitRandom - 1)
        return max(0, Int64((base + spread).rounded()))
    }

    /// The delay before attempt `failedAttempt + 1`, spread with `generator`.
    public func delayMs(afterAttempt failedAttempt: Int, using generator: inout some RandomNumberGenerator) -> Int64 {
        delayMs(afterAttempt: failedAttempt, unitRandom: Double.random(in: 0..<1, using: &generator))
    }
}

/// `base^exponent` for a non-negative integral exponent, without Foundation.
private func power(_ base: Double, _ exponent: Double) -> Double {
    var result = 1.0
    var remaining = Int(min(exponent, 4096))
    while remaining > 0 {
        result *= base
        if !result.isFinite { return .infinity }
        remaining -= 1
    }
    return result
}
