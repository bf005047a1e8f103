/// A 5-field cron expression (minute hour day-of-month month day-of-week),
/// as Vixie cron reads it: `*`, lists, ranges, steps, month and day names,
/// 0 or 7 for Sunday, and the `@hourly`...`@yearly` names (SCHEDULING.md).
///
/// Day of month and day of week: when both are restricted, a day matching
/// either fires; when one is `*` (or starts with `*`, as `*/2`), only the
/// other counts. That is Vixie cron's rule, and cronie's.
public struct CronExpression: Sendable, Equatable, CustomStringConvertible {
    /// The text as written in the config.
    public let text: String
    let minutes: FieldSet
    let hours: FieldSet
    let daysOfMonth: FieldSet
    let months: FieldSet
    /// 0 = Sunday ... 6 = Saturday (7 is folded into 0).
    let daysOfWeek: FieldSet
    let dayOfMonthStar: Bool
    let dayOfWeekStar: Bool

    public var description: String { text }

    static let names: [String: String] = [
        "@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *", "@weekly": "0 0 * * 0",
        "@daily": "0 0 * * *", "@midnight": "0 0 * * *", "@hourly": "0 * * * *",
    ]
    private static let monthNames = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
    private static let dayNames = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"]

    public init(_ text: String) throws(CronError) {
        self.text = text
        let trimmed = text.trimmingSpaces
        var expanded = trimmed
        if trimmed.hasPrefix("@") {
            guard let fields = Self.names[trimmed.lowercased()] else {
                throw CronError("unknown name \"\(trimmed)\"; use @hourly, @daily, @weekly, @monthly or @yearly")
            }
            expanded = fields
        }
        let fields = expanded.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
        guard fields.count == 5 else {
            throw CronError("expected 5 fields (minute hour day-of-month month day-of-week), got \(fields.count)")
        }
        minutes = try FieldSet(fields[0], name: "minute", range: 0...59, names: [])
        hours = try FieldSet(fields[1], name: "hour", range: 0...23, names: [])
        daysOfMonth = try FieldSet(fields[2], name: "day-of-month", range: 1...31, names: [])
        months = try FieldSet(fields[3], name: "month", range: 1...12, names: Self.monthNames, firstNameValue: 1)
        var week = try FieldSet(fields[4], name: "day-of-week", range: 0...7, names: Self.dayNames)
        if week.contains(7) { week.bits |= 1 }
        week.bits &= 0x7F
        daysOfWeek = week
        dayOfMonthStar = fields[2].hasPrefix("*")
        dayOfWeekStar = fields[4].hasPrefix("*")
    }

    /// Whether the expression names this local date (any time of it).
    func matches(year: Int64, month: Int64, day: Int64, weekday: Int64) -> Bool {
        guard months.contains(month) else { return false }
        let dom = daysOfMonth.contains(day), dow = daysOfWeek.contains(weekday)
        return dayOfMonthStar || dayOfWeekStar ? dom && dow : dom || dow
    }

    /// The first instant strictly after `instant` (seconds since the epoch)
    /// that the expression names in `zone`, by the DST rules of
    /// `TimeZoneRules.instant(forLocal:)`; nil when none comes within
    /// `searchYears` (such as `0 0 30 2 *`).
    public func nextInstant(after instant: Int64, in zone: TimeZoneRules, searchYears: Int64 = 8) -> Int64? {
        let firstDay = zone.localTime(at: instant).floorDivided(by: 86_400) - 1
        for day in firstDay...(firstDay + searchYears * 366) {
            let date = CivilDate.from(daysSinceEpoch: day)
            guard matches(year: date.year, month: date.month, day: date.day, weekday: (day + 4).floorModulo(7)) else { continue }
            for hour in hours.values {
                for minute in minutes.values {
                    let candidate = zone.instant(forLocal: day * 86_400 + hour * 3600 + minute * 60)
                    if candidate > instant { return candidate }
                }
            }
        }
        return nil
    }
}

/// A cron expression that cannot be read.
public struct CronError: Error, Sendable, Equatable, CustomStringConvertible {
    public var message: String
    init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// The values one field allows, as bits.
struct FieldSet: Sendable, Equatable {
    var bits: UInt64 = 0

    func contains(_ value: Int64) -> Bool { value >= 0 && value < 64 && bits & (1 << UInt64(value)) != 0 }

    var values: [Int64] { (0..<64).filter { contains($0) } }

    /// `*`, `5`, `1-5`, `*/15`, `10-40/10`, `5/10` (from 5 to the end), `jan`, `mon-fri`, lists of these.
    init(_ text: String, name: String, range: ClosedRange<Int64>, names: [String], firstNameValue: Int64 = 0) throws(CronError) {
        func value(_ token: Substring) throws(CronError) -> Int64 {
            if let index = names.firstIndex(of: token.lowercased()) { return Int64(index) + firstNameValue }
            guard let n = Int64(token), range.contains(n) else {
                throw CronError("\(name): \"\(token)\" is not a value from \(range.lowerBound) to \(range.upperBound)")
            }
            return n
        }
        for item in text.split(separator: ",", omittingEmptySubsequences: false) {
            let parts = item.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
            let base = parts[0]
            var step: Int64 = 1
            if parts.count == 2 {
                guard let s = Int64(parts[1]), s >= 1, s <= range.upperBound else {
                    throw CronError("\(name): step \"\(parts[1])\" must be from 1 to \(range.upperBound)")
                }
                step = s
            }
            var low: Int64, high: Int64
            if base == "*" {
                (low, high) = (range.lowerBound, range.upperBound)
            } else if let dash = base.firstIndex(of: "-") {
                low = try value(base[..<dash])
                high = try value(base[base.index(after: dash)...])
                guard low <= high else { throw CronError("\(name): range \"\(base)\" runs backwards") }
            } else {
                guard !base.isEmpty else { throw CronError("\(name): empty item in \"\(text)\"") }
                low = try value(base)
                high = parts.count == 2 ? range.upperBound : low
            }
            for v in stride(from: low, through: high, by: Int(step)) { bits |= 1 << UInt64(v) }
        }
    }
}

extension String {
    var trimmingSpaces: String {
        String(drop(while: { $0 == " " || $0 == "\t" }).reversed().drop(while: { $0 == " " || $0 == "\t" }).reversed())
    }
}
