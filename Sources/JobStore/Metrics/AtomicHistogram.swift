import Synchronization

/// A histogram whose buckets are atomics: recorded without a lock or an
/// allocation (swift-prometheus's `Histogram.record` takes a lock per
/// observation), read by a scrape on any thread.
///
/// Values are integers in `unitsPerSecond` (milliseconds for jobs,
/// nanoseconds for commits, 1 for counts): the bounds are given in seconds
/// (or counts) and turned into units once.
public final class AtomicHistogram: @unchecked Sendable {
    /// Upper bounds (inclusive), in seconds or counts, as rendered in `le`.
    public let bounds: [Double]
    private let unitBounds: [Int64]
    private let unitsPerSecond: Double
    /// One counter per bound, plus the +Inf bucket: not cumulative.
    private let buckets: AtomicCounters
    private let sumUnits = Atomic<Int>(0)

    public init(bounds: [Double], unitsPerSecond: Double) {
        self.bounds = bounds
        self.unitsPerSecond = unitsPerSecond
        unitBounds = bounds.map { Int64(($0 * unitsPerSecond).rounded()) }
        buckets = AtomicCounters(count: bounds.count + 1)
    }

    /// Adds one observation of `units` (negative values count as 0).
    public func record(_ units: Int64) {
        let value = max(units, 0)
        var index = 0
        while index < unitBounds.count && value > unitBounds[index] { index += 1 }
        buckets[index].add(1, ordering: .relaxed)
        sumUnits.add(Int(value), ordering: .relaxed)
    }

    /// The counts now: cumulative per bound, as Prometheus wants them.
    public func snapshot() -> HistogramSnapshot {
        var cumulative: [Int] = []
        cumulative.reserveCapacity(bounds.count + 1)
        var total = 0
        for index in 0...bounds.count {
            total += buckets[index].load(ordering: .relaxed)
            cumulative.append(total)
        }
        return HistogramSnapshot(bounds: bounds, cumulativeCounts: cumulative,
                                 sum: Double(sumUnits.load(ordering: .relaxed)) / unitsPerSecond)
    }
}

/// A histogram as read at one moment.
public struct HistogramSnapshot: Sendable, Equatable {
    public var bounds: [Double]
    /// `cumulativeCounts[i]`: observations ≤ `bounds[i]`; the last one is +Inf (the count).
    public var cumulativeCounts: [Int]
    public var sum: Double
    public var count: Int { cumulativeCounts.last ?? 0 }
}
