import Testing
@testable import JobCore

@Suite struct RetryPolicyTests {
    @Test func backoffDoublesFromInitialUpToMax() {
        let policy = RetryPolicy(initialMs: 1000, factor: 2, maxMs: 10_000, jitter: 0)
        #expect((1...6).map { policy.baseDelayMs(afterAttempt: $0) } == [1000, 2000, 4000, 8000, 10_000, 10_000])
        #expect(policy.delayMs(afterAttempt: 3, unitRandom: 0.99) == 4000)
    }

    @Test func hugeAttemptCountsStayAtMax() {
        #expect(RetryPolicy.default.baseDelayMs(afterAttempt: 1000) == 3_600_000)
    }

    @Test func jitterSpreadsWithinBounds() {
        let policy = RetryPolicy(initialMs: 1000, factor: 2, maxMs: 3_600_000, jitter: 0.2)
        #expect(policy.delayMs(afterAttempt: 2, unitRandom: 0) == 1600)
        #expect(policy.delayMs(afterAttempt: 2, unitRandom: 0.5) == 2000)
        #expect(policy.delayMs(afterAttempt: 2, unitRandom: 0.999_999) == 2400)
    }

    @Test func injectedGeneratorMakesDelaysRepeatable() {
        var a = SplitMix(seed: 42)
        var b = SplitMix(seed: 42)
        let first = (1...10).map { RetryPolicy.default.delayMs(afterAttempt: $0, using: &a) }
        let second = (1...10).map { RetryPolicy.default.delayMs(afterAttempt: $0, using: &b) }
        #expect(first == second)
        for (n, delay) in first.enumerated() {
            let base = Double(RetryPolicy.default.baseDelayMs(afterAttempt: n + 1))
            #expect(Double(delay) >= base * 0.8 - 1 && Double(delay) <= base * 1.2 + 1)
        }
    }

    @Test func defaultsAreTheDaemonSpecs() {
        #expect(RetryPolicy.default == RetryPolicy(initialMs: 1000, factor: 2, maxMs: 3_600_000, jitter: 0.2))
    }
}

/// A small seeded generator for repeatable tests.
struct SplitMix: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
