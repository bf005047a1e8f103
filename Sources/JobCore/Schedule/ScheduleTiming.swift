/// When a schedule's ticks fall (SCHEDULING.md): a cron expression in a
/// time zone, or a fixed period counted from the schedule's first start.
public enum ScheduleTiming: Sendable, Equatable, CustomStringConvertible {
    case cron(CronExpression, TimeZoneRules)
    case every(milliseconds: Int64)

    /// `every` must be at least this long.
    public static let minimumPeriodMs: Int64 = 1000

    /// The first tick strictly after `time`. `anchor` is the schedule's
    /// first start, which `every` counts from (its first tick is one
    /// period after it). Nil when a cron expression never matches.
    public func nextTick(after time: Timestamp, anchor: Timestamp) -> Timestamp? {
        switch self {
        case .cron(let expression, let zone):
            let seconds = time.rawValue.floorDivided(by: 1000)
            return expression.nextInstant(after: seconds, in: zone).map { Timestamp(millisecondsSinceEpoch: $0 * 1000) }
        case .every(let period):
            guard time >= anchor else { return anchor.adding(milliseconds: period) }
            let periods = time.milliseconds(since: anchor) / period + 1
            return anchor.adding(milliseconds: periods * period)
        }
    }

    /// `cron "15 3 * * *" in Europe/Berlin` or `every 10m`, for logs.
    public var description: String {
        switch self {
        case .cron(let expression, let zone): "cron \"\(expression.text)\" in \(zone.name)"
        case .every(let ms): "every \(ms) ms"
        }
    }
}
