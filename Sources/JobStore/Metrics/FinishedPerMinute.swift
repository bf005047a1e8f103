import JobCore
import Synchronization

/// Jobs that ended in each minute of the last hour, by terminal state: a
/// ring of 60 minutes, each stamped with its minute since the epoch so that
/// a slot left over from an earlier hour reads as 0.
final class FinishedPerMinute: @unchecked Sendable {
    private static let slots = 60
    private let stamps = AtomicCounters(count: slots)
    private let counts = AtomicCounters(count: slots * 3)

    /// The writer thread only.
    func add(_ state: JobState, at now: Timestamp) {
        let minute = Int(now.rawValue / 60_000)
        let slot = minute % Self.slots
        if stamps[slot].load(ordering: .relaxed) != minute {
            for index in 0..<3 { counts[slot * 3 + index].store(0, ordering: .relaxed) }
            stamps[slot].store(minute, ordering: .releasing)
        }
        counts[slot * 3 + PairCounters.finishedIndex(state)].add(1, ordering: .relaxed)
    }

    func lastHour(now: Timestamp) -> [FinishedInMinute] {
        let current = Int(now.rawValue / 60_000)
        return ((current - Self.slots + 1)...current).map { minute in
            let slot = minute % Self.slots
            let at = Timestamp(rawValue: Int64(minute) * 60_000)
            guard stamps[slot].load(ordering: .acquiring) == minute else { return FinishedInMinute(at: at) }
            return FinishedInMinute(at: at, succeeded: counts[slot * 3].load(ordering: .relaxed),
                                    failed: counts[slot * 3 + 1].load(ordering: .relaxed),
                                    cancelled: counts[slot * 3 + 2].load(ordering: .relaxed))
        }
    }
}

/// The jobs that ended in one minute.
public struct FinishedInMinute: Sendable, Equatable {
    public var at: Timestamp
    public var succeeded = 0
    public var failed = 0
    public var cancelled = 0
}
