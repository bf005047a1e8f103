/// A point in time as whole milliseconds since the Unix epoch (UTC), the
/// precision of every time in the protocol and the database.
///
/// JobCore never reads the clock: callers pass a `Timestamp` in.
public struct Timestamp: RawRepresentable, Hashable, Comparable, Sendable, CustomStringConvertible {
    public let millisecondsSinceEpoch: Int64

    public init(millisecondsSinceEpoch: Int64) {
        self.millisecondsSinceEpoch = millisecondsSinceEpoch
    }

    public init(rawValue: Int64) {
        self.millisecondsSinceEpoch = rawValue
    }

    public var rawValue: Int64 { millisecondsSinceEpoch }

    public static func < (lhs: Timestamp, rhs: Timestamp) -> Bool {
        lhs.millisecondsSinceEpoch < rhs.millisecondsSinceEpoch
    }

    /// This time moved by `milliseconds` (saturating, never overflowing).
    public func adding(milliseconds: Int64) -> Timestamp {
        let (sum, overflow) = millisecondsSinceEpoch.addingReportingOverflow(milliseconds)
        if overflow { return Timestamp(millisecondsSinceEpoch: milliseconds > 0 ? .max : .min) }
        return Timestamp(millisecondsSinceEpoch: sum)
    }

    /// Milliseconds from `other` to this time.
    public func milliseconds(since other: Timestamp) -> Int64 {
        millisecondsSinceEpoch - other.millisecondsSinceEpoch
    }

    public var description: String { rfc3339 }
}

// MARK: - RFC 3339

extension Timestamp {
    /// `2026-11-29T10:15:30.123Z`: UTC, always three fraction digits.
    public var rfc3339: String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(24)
        appendRFC3339(to: &bytes)
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Appends `rfc3339`'s text as bytes: every job object carries several
    /// times, and building each as a String cost a job's answer ~1 µs apiece.
    public func appendRFC3339(to bytes: inout [UInt8]) {
        let ms = millisecondsSinceEpoch
        let days = ms.floorDivided(by: 86_400_000)
        let msOfDay = ms - days * 86_400_000
        let (year, month, day) = CivilDate.from(daysSinceEpoch: days)
        func digits(_ value: Int64, _ count: Int) {
            var divisor: Int64 = count == 4 ? 1000 : count == 3 ? 100 : 10
            guard value >= 0, value < divisor * 10 else {
                bytes.append(contentsOf: pad(value, count).utf8)  // a year beyond 9999, or before 0
                return
            }
            while divisor > 0 {
                bytes.append(UInt8(ascii: "0") + UInt8(value / divisor % 10))
                divisor /= 10
            }
        }
        digits(year, 4); bytes.append(UInt8(ascii: "-"))
        digits(month, 2); bytes.append(UInt8(ascii: "-"))
        digits(day, 2); bytes.append(UInt8(ascii: "T"))
        digits(msOfDay / 3_600_000, 2); bytes.append(UInt8(ascii: ":"))
        digits(msOfDay / 60_000 % 60, 2); bytes.append(UInt8(ascii: ":"))
        digits(msOfDay / 1000 % 60, 2); bytes.append(UInt8(ascii: "."))
        digits(msOfDay % 1000, 3); bytes.append(UInt8(ascii: "Z"))
    }

    /// Parses an RFC 3339 date-time (`2026-11-29T10:15:30Z`,
    /// `2026-11-29T11:15:30.5+01:00`, ...). Digits finer than a millisecond
    /// are rounded up, so a job given this time never runs early.
    /// Returns nil for anything else.
    public init?(rfc3339 text: String) {
        var scanner = DigitScanner(Array(text.utf8))
        guard let year = scanner.number(digits: 4), scanner.take("-"),
              let month = scanner.number(digits: 2), scanner.take("-"),
              let day = scanner.number(digits: 2),
              scanner.take("T") || scanner.take("t") || scanner.take(" "),
              let hour = scanner.number(digits: 2), scanner.take(":"),
              let minute = scanner.number(digits: 2), scanner.take(":"),
              let second = scanner.number(digits: 2)
        else { return nil }
        guard (1...12).contains(month), (1...CivilDate.daysIn(month: month, year: year)).contains(day),
              hour < 24, minute < 60, second < 61  // 60: a leap second, folded into the next
        else { return nil }

        var milli: Int64 = 0
        if scanner.take(".") {
            var digits = 0
            var roundUp = false
            while let d = scanner.digit() {
                if digits < 3 { milli = milli * 10 + Int64(d) } else if d != 0 { roundUp = true }
                digits += 1
            }
            guard digits > 0 else { return nil }
            for _ in digits..<max(digits, 3) { milli *= 10 }
            if roundUp { milli += 1 }
        }

        var offsetMinutes: Int64 = 0
        if scanner.take("Z") || scanner.take("z") {
            offsetMinutes = 0
        } else if let sign: Int64 = scanner.take("+") ? 1 : (scanner.take("-") ? -1 : nil) {
            guard let oh = scanner.number(digits: 2), scanner.take(":"), let om = scanner.number(digits: 2),
                  oh < 24, om < 60 else { return nil }
            offsetMinutes = sign * (oh * 60 + om)
        } else {
            return nil
        }
        guard scanner.atEnd else { return nil }

        let days = CivilDate.daysSinceEpoch(year: year, month: month, day: day)
        let seconds = days * 86_400 + hour * 3600 + minute * 60 + second - offsetMinutes * 60
        self.init(millisecondsSinceEpoch: seconds * 1000 + milli)
    }
}

private func pad(_ value: Int64, _ width: Int) -> String {
    let digits = String(value)
    return digits.count >= width ? digits : String(repeating: "0", count: width - digits.count) + digits
}

extension Int64 {
    /// Division that rounds toward negative infinity (times before 1970).
    func floorDivided(by divisor: Int64) -> Int64 {
        let q = self / divisor
        return (self % divisor < 0) ? q - 1 : q
    }
}

/// The proleptic Gregorian calendar in days since 1970-01-01
/// (H. Hinnant's civil-from-days algorithms).
enum CivilDate {
    static func daysSinceEpoch(year: Int64, month: Int64, day: Int64) -> Int64 {
        let y = month <= 2 ? year - 1 : year
        let era = y.floorDivided(by: 400)
        let yoe = y - era * 400
        let mp = (month + 9) % 12
        let doy = (153 * mp + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    static func from(daysSinceEpoch days: Int64) -> (year: Int64, month: Int64, day: Int64) {
        let z = days + 719_468
        let era = z.floorDivided(by: 146_097)
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let day = doy - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        return (yoe + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }

    static func daysIn(month: Int64, year: Int64) -> Int64 {
        switch month {
        case 2: (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }
}

/// Reads ASCII digits and punctuation from UTF-8 bytes.
struct DigitScanner {
    private let bytes: [UInt8]
    private var index = 0

    init(_ bytes: [UInt8]) {
        self.bytes = bytes
    }

    var atEnd: Bool { index == bytes.count }

    mutating func digit() -> Int? {
        guard index < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[index]) else { return nil }
        defer { index += 1 }
        return Int(bytes[index] - UInt8(ascii: "0"))
    }

    mutating func number(digits count: Int) -> Int64? {
        var value: Int64 = 0
        for _ in 0..<count {
            guard let d = digit() else { return nil }
            value = value * 10 + Int64(d)
        }
        return value
    }

    mutating func take(_ character: Unicode.Scalar) -> Bool {
        guard index < bytes.count, bytes[index] == UInt8(ascii: character) else { return false }
        index += 1
        return true
    }
}
