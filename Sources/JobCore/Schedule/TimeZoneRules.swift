/// A time zone's UTC offsets over time, read from a TZif file of the
/// system's tz database (RFC 8536; `/usr/share/zoneinfo/NAME`). Pure: the
/// caller reads the file. Times are seconds since the Unix epoch.
///
/// The file's transitions are used as they are; after the last one, the
/// POSIX TZ rule of its footer (`CET-1CEST,M3.5.0,M10.5.0/3`) is expanded
/// year by year up to `TimeZoneRules.lastExpandedYear`.
public struct TimeZoneRules: Sendable, Equatable {
    public let name: String
    /// The offset before the first transition.
    let initialOffset: Int64
    /// Transition instants, ascending, with the offset in force from each.
    let times: [Int64]
    let offsets: [Int64]

    /// Rules are expanded this far; later times keep the last offset.
    static let lastExpandedYear: Int64 = 2200

    public static let utc = TimeZoneRules(name: "UTC", initialOffset: 0, times: [], offsets: [])

    init(name: String, initialOffset: Int64, times: [Int64], offsets: [Int64]) {
        self.name = name
        self.initialOffset = initialOffset
        self.times = times
        self.offsets = offsets
    }

    /// The seconds to add to UTC at `instant` to get local wall time.
    public func offset(at instant: Int64) -> Int64 {
        guard let index = lastTransition(atOrBefore: instant) else { return initialOffset }
        return offsets[index]
    }

    /// Local wall time (seconds since 1970-01-01T00:00 local) at `instant`.
    public func localTime(at instant: Int64) -> Int64 {
        instant + offset(at: instant)
    }

    /// The instant a local wall time names, by SCHEDULING.md's DST rules: a
    /// time that happens twice is its first occurrence; a time that does
    /// not exist (skipped by a change) is the end of the gap, the first
    /// instant after it.
    public func instant(forLocal local: Int64) -> Int64 {
        // Offsets in force near `local` (two days either side covers any
        // offset on Earth and any pair of transitions close together).
        let window = 2 * 86_400 as Int64
        var candidates = [offset(at: local - window)]
        var index = (lastTransition(atOrBefore: local - window) ?? -1) + 1
        while index < times.count, times[index] <= local + window {
            candidates.append(offsets[index])
            index += 1
        }
        var best: Int64?
        for offset in candidates where self.offset(at: local - offset) == offset {
            best = min(best ?? .max, local - offset)
        }
        if let best { return best }
        // In a gap: the transition whose jump skips this local time.
        index = (lastTransition(atOrBefore: local - window) ?? -1) + 1
        while index < times.count, times[index] <= local + window {
            let before = index == 0 ? initialOffset : offsets[index - 1]
            if times[index] + before <= local, local < times[index] + offsets[index] { return times[index] }
            index += 1
        }
        return local - candidates[0]  // unreachable for consistent data
    }

    private func lastTransition(atOrBefore instant: Int64) -> Int? {
        var low = 0, high = times.count  // first index with times[index] > instant
        while low < high {
            let mid = (low + high) / 2
            if times[mid] <= instant { low = mid + 1 } else { high = mid }
        }
        return low == 0 ? nil : low - 1
    }
}

/// Why a TZif file or a POSIX TZ rule could not be read.
public struct TimeZoneError: Error, Sendable, Equatable, CustomStringConvertible {
    public var message: String
    public init(message: String) { self.message = message }
    public var description: String { message }
}

extension TimeZoneRules {
    /// Reads a TZif file (versions 1 to 4). Leap-second records are skipped:
    /// the system clock does not count them either.
    public init(name: String, tzif bytes: [UInt8]) throws(TimeZoneError) {
        var reader = ByteReader(bytes)
        let v1 = try TZifHeader(&reader)
        var timeSize = 4
        var header = v1
        if v1.version >= 2 {
            // Skip the 32-bit block, use the 64-bit one that follows.
            try reader.skip(v1.dataLength(timeSize: 4))
            header = try TZifHeader(&reader)
            timeSize = 8
        }
        var times: [Int64] = []
        for _ in 0..<header.timeCount { times.append(try reader.signed(timeSize)) }
        var typeIndices: [Int] = []
        for _ in 0..<header.timeCount { typeIndices.append(Int(try reader.byte())) }
        var typeOffsets: [Int64] = []
        for _ in 0..<header.typeCount {
            typeOffsets.append(try reader.signed(4))
            try reader.skip(2)  // isdst, abbreviation index
        }
        guard !typeOffsets.isEmpty, typeIndices.allSatisfy({ $0 < typeOffsets.count }) else {
            throw TimeZoneError(message: "\(name): not a valid TZif file (bad local time types)")
        }
        try reader.skip(header.charCount + header.leapCount * (timeSize + 4) + header.isStdCount + header.isUTCount)

        var offsets = typeIndices.map { typeOffsets[$0] }
        var footerRule: PosixTZRule?
        if v1.version >= 2, let footer = reader.footerLine(), !footer.isEmpty {
            footerRule = try PosixTZRule(footer)
        }
        if let rule = footerRule {
            let lastTime = times.last ?? .min
            let firstYear = times.last.map { CivilDate.from(daysSinceEpoch: $0.floorDivided(by: 86_400)).year } ?? 1970
            if let dst = rule.dst {
                for year in firstYear...Self.lastExpandedYear {
                    for (time, offset) in dst.transitions(inYear: year, std: rule.stdOffset).sorted(by: { $0.0 < $1.0 })
                    where time > lastTime {
                        times.append(time)
                        offsets.append(offset)
                    }
                }
            } else if times.isEmpty {
                // A fixed zone with no transitions: its one offset.
                self.init(name: name, initialOffset: rule.stdOffset, times: [], offsets: [])
                return
            }
        }
        self.init(name: name, initialOffset: typeOffsets[0], times: times, offsets: offsets)
    }
}

/// The fixed part of a TZif header ("TZif", version, counts).
private struct TZifHeader {
    var version: Int
    var isUTCount: Int, isStdCount: Int, leapCount: Int, timeCount: Int, typeCount: Int, charCount: Int

    init(_ reader: inout ByteReader) throws(TimeZoneError) {
        guard try reader.take(4) == Array("TZif".utf8) else { throw TimeZoneError(message: "not a TZif file") }
        let versionByte = try reader.byte()
        version = versionByte == 0 ? 1 : Int(versionByte) - 0x30
        try reader.skip(15)
        isUTCount = Int(try reader.signed(4))
        isStdCount = Int(try reader.signed(4))
        leapCount = Int(try reader.signed(4))
        timeCount = Int(try reader.signed(4))
        typeCount = Int(try reader.signed(4))
        charCount = Int(try reader.signed(4))
        guard [isUTCount, isStdCount, leapCount, timeCount, typeCount, charCount].allSatisfy({ $0 >= 0 && $0 < 1 << 20 }) else {
            throw TimeZoneError(message: "not a valid TZif file (bad counts)")
        }
    }

    func dataLength(timeSize: Int) -> Int {
        timeCount * (timeSize + 1) + typeCount * 6 + charCount + leapCount * (timeSize + 4) + isStdCount + isUTCount
    }
}

private struct ByteReader {
    let bytes: [UInt8]
    var index = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    mutating func take(_ count: Int) throws(TimeZoneError) -> [UInt8] {
        guard count >= 0, index + count <= bytes.count else { throw TimeZoneError(message: "TZif file is truncated") }
        defer { index += count }
        return Array(bytes[index..<index + count])
    }

    mutating func skip(_ count: Int) throws(TimeZoneError) { _ = try take(count) }

    mutating func byte() throws(TimeZoneError) -> UInt8 { try take(1)[0] }

    /// A big-endian two's-complement integer of 4 or 8 bytes.
    mutating func signed(_ size: Int) throws(TimeZoneError) -> Int64 {
        let raw = try take(size).reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        return size == 4 ? Int64(Int32(truncatingIfNeeded: raw)) : Int64(bitPattern: raw)
    }

    /// The footer: "\n" TZ-string "\n".
    mutating func footerLine() -> String? {
        guard index < bytes.count, bytes[index] == 0x0A else { return nil }
        let rest = bytes[(index + 1)...]
        guard let end = rest.firstIndex(of: 0x0A) else { return nil }
        return String(decoding: bytes[(index + 1)..<end], as: UTF8.self)
    }
}

/// A POSIX TZ string such as `EST5EDT,M3.2.0,M11.1.0` (offsets are stored
/// as seconds east of UTC, the opposite of the string's sign).
struct PosixTZRule {
    struct DST {
        var offset: Int64
        var start: DateRule
        var end: DateRule

        /// The year's two changes: to DST at `start` (given in standard
        /// time), back at `end` (given in DST).
        func transitions(inYear year: Int64, std: Int64) -> [(Int64, Int64)] {
            [(start.localSeconds(inYear: year) - std, offset), (end.localSeconds(inYear: year) - offset, std)]
        }
    }

    /// `Mm.w.d`, `Jn` or `n`, with a time of day (default 02:00).
    struct DateRule {
        enum Day { case monthWeekDay(month: Int64, week: Int64, weekday: Int64), julianNoLeap(Int64), zeroBased(Int64) }
        var day: Day
        var time: Int64 = 7200

        func localSeconds(inYear year: Int64) -> Int64 {
            let jan1 = CivilDate.daysSinceEpoch(year: year, month: 1, day: 1)
            let leap = CivilDate.daysIn(month: 2, year: year) == 29
            let days: Int64
            switch day {
            case .zeroBased(let n): days = jan1 + n
            case .julianNoLeap(let n): days = jan1 + n - 1 + (leap && n >= 60 ? 1 : 0)
            case .monthWeekDay(let month, let week, let weekday):
                let first = CivilDate.daysSinceEpoch(year: year, month: month, day: 1)
                let firstWeekday = (first + 4).floorModulo(7)  // 1970-01-01 was a Thursday
                var dayOfMonth = 1 + (weekday - firstWeekday).floorModulo(7) + (week - 1) * 7
                if dayOfMonth > CivilDate.daysIn(month: month, year: year) { dayOfMonth -= 7 }  // week 5: the last
                days = first + dayOfMonth - 1
            }
            return days * 86_400 + time
        }
    }

    var stdOffset: Int64
    var dst: DST?

    init(_ text: String) throws(TimeZoneError) {
        var scanner = TZScanner(Array(text.utf8), text: text)
        try scanner.name()
        stdOffset = -(try scanner.offset())
        guard !scanner.atEnd else { dst = nil; return }
        try scanner.name()
        var dstOffset = stdOffset + 3600
        if !scanner.atEnd, scanner.peek != UInt8(ascii: ",") { dstOffset = -(try scanner.offset()) }
        guard scanner.take(",") else {
            // No rule: POSIX's default is US rules; tz files always give one.
            throw TimeZoneError(message: "TZ rule \"\(text)\" has no DST change dates")
        }
        let start = try scanner.dateRule()
        guard scanner.take(",") else { throw TimeZoneError(message: "TZ rule \"\(text)\": expected ,") }
        let end = try scanner.dateRule()
        guard scanner.atEnd else { throw TimeZoneError(message: "TZ rule \"\(text)\": unexpected text at the end") }
        dst = DST(offset: dstOffset, start: start, end: end)
    }
}

private struct TZScanner {
    let bytes: [UInt8]
    let text: String
    var index = 0

    init(_ bytes: [UInt8], text: String) {
        self.bytes = bytes
        self.text = text
    }

    var atEnd: Bool { index >= bytes.count }
    var peek: UInt8? { atEnd ? nil : bytes[index] }

    func error(_ what: String) -> TimeZoneError { TimeZoneError(message: "TZ rule \"\(text)\": \(what)") }

    mutating func take(_ character: Unicode.Scalar) -> Bool {
        guard peek == UInt8(ascii: character) else { return false }
        index += 1
        return true
    }

    /// `CET` or `<+0330>`.
    mutating func name() throws(TimeZoneError) {
        if take("<") {
            while let byte = peek, byte != UInt8(ascii: ">") { index += 1 }
            guard take(">") else { throw error("unclosed <") }
            return
        }
        let start = index
        while let byte = peek, (byte | 0x20) >= UInt8(ascii: "a"), (byte | 0x20) <= UInt8(ascii: "z") { index += 1 }
        guard index - start >= 3 else { throw error("expected a zone abbreviation") }
    }

    mutating func number() throws(TimeZoneError) -> Int64 {
        var value: Int64 = 0
        let start = index
        while let byte = peek, byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9"), index - start < 4 {
            value = value * 10 + Int64(byte - UInt8(ascii: "0"))
            index += 1
        }
        guard index > start else { throw error("expected a number") }
        return value
    }

    /// `[+-]hh[:mm[:ss]]` in seconds, as written (west positive).
    mutating func offset() throws(TimeZoneError) -> Int64 {
        let sign: Int64 = take("-") ? -1 : 1
        if sign == 1 { _ = take("+") }
        var seconds = try number() * 3600
        if take(":") { seconds += try number() * 60 }
        if take(":") { seconds += try number() }
        return sign * seconds
    }

    mutating func dateRule() throws(TimeZoneError) -> PosixTZRule.DateRule {
        var rule: PosixTZRule.DateRule
        if take("M") {
            let month = try number()
            guard take(".") else { throw error("expected Mm.w.d") }
            let week = try number()
            guard take(".") else { throw error("expected Mm.w.d") }
            let weekday = try number()
            guard (1...12).contains(month), (1...5).contains(week), (0...6).contains(weekday) else { throw error("Mm.w.d out of range") }
            rule = .init(day: .monthWeekDay(month: month, week: week, weekday: weekday))
        } else if take("J") {
            let n = try number()
            guard (1...365).contains(n) else { throw error("Jn out of range") }
            rule = .init(day: .julianNoLeap(n))
        } else {
            let n = try number()
            guard (0...365).contains(n) else { throw error("day out of range") }
            rule = .init(day: .zeroBased(n))
        }
        if take("/") { rule.time = try offset() }  // may be negative or past 24h (RFC 8536)
        return rule
    }
}

extension Int64 {
    /// The remainder that is never negative.
    func floorModulo(_ divisor: Int64) -> Int64 {
        let r = self % divisor
        return r < 0 ? r + divisor : r
    }
}
