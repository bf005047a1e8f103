import JobCore

/// One entry of `schedules:` (SCHEDULING.md): when it ticks, and the job
/// each tick enqueues.
public struct ScheduleConfig: Sendable, Equatable {
    /// Ticks missed while the daemon was down or the schedule paused.
    public enum CatchUp: String, Sendable, Equatable, CaseIterable {
        /// One job, for the most recent missed tick.
        case latest
        /// None: the missed ticks are skipped.
        case none
        /// One job per missed tick, oldest first, at most `maxCatchUp`.
        case all
    }

    /// A tick that comes while the schedule's previous job is not terminal.
    public enum Overlap: String, Sendable, Equatable, CaseIterable {
        case skip, allow
    }

    /// `catch_up: all` enqueues at most this many missed ticks (the most recent ones).
    public static let maxCatchUp = 1000

    public var timing: ScheduleTiming
    /// The text of `cron` or `every` as written, for `schedules`.
    public var timingText: String
    public var handler: String
    public var payload: RawJSON = .null
    public var queue: String?
    public var priority: Int?
    public var maxAttempts: Int?
    public var timeoutMs: Int64?
    public var tags: [String] = []
    public var catchUp: CatchUp = .latest
    public var overlap: Overlap = .skip

    public init(timing: ScheduleTiming, timingText: String, handler: String) {
        self.timing = timing
        self.timingText = timingText
        self.handler = handler
    }

    public var isCron: Bool {
        if case .cron = timing { true } else { false }
    }

    /// The zone a cron schedule ticks in; nil for `every`.
    public var timeZoneName: String? {
        if case .cron(_, let zone) = timing { zone.name } else { nil }
    }

    /// What identifies the ticks: a change of it starts the schedule
    /// afresh (an `every` schedule counts from the change).
    public var definition: String {
        switch timing {
        case .cron(let expression, let zone): "cron \(expression.text) \(zone.name)"
        case .every(let ms): "every \(ms)"
        }
    }
}
