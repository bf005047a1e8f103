import Foundation
import JobCore
import Testing

/// The cron parser and the DST rules of SCHEDULING.md, against the system's
/// tz database and, for the table, against an independent implementation:
/// a brute-force walk over every UTC minute with Python's `zoneinfo`.
@Suite struct CronExpressionTests {
    static func zone(_ name: String) throws -> TimeZoneRules {
        let data = try #require(FileManager.default.contents(atPath: "/usr/share/zoneinfo/\(name)"), "tzdata has \(name)")
        return try TimeZoneRules(name: name, tzif: [UInt8](data))
    }

    static func seconds(_ text: String) -> Int64 { Timestamp(rfc3339: text)!.rawValue / 1000 }
    static func text(_ seconds: Int64) -> String { Timestamp(millisecondsSinceEpoch: seconds * 1000).rfc3339 }

    /// The next `count` ticks after `start`.
    static func ticks(_ expression: String, _ zone: TimeZoneRules, after start: Int64, count: Int) throws -> [Int64] {
        let cron = try CronExpression(expression)
        var result: [Int64] = []
        var time = start
        for _ in 0..<count {
            guard let next = cron.nextInstant(after: time, in: zone) else { break }
            result.append(next)
            time = next
        }
        return result
    }

    // MARK: - A hand-checked table (2026's changes)

    @Test(arguments: [
        // Berlin springs forward on 2026-03-29 at 02:00 CET (01:00Z) to 03:00 CEST.
        ("Europe/Berlin", "30 2 * * *", "2026-03-28T12:00:00.000Z", ["2026-03-29T01:00:00.000Z", "2026-03-30T00:30:00.000Z"]),
        ("Europe/Berlin", "15 3 * * *", "2026-03-28T12:00:00.000Z", ["2026-03-29T01:15:00.000Z", "2026-03-30T01:15:00.000Z"]),
        // ...and falls back on 2026-10-25 at 03:00 CEST (01:00Z) to 02:00 CET: 02:30 happens twice, fires once.
        ("Europe/Berlin", "30 2 * * *", "2026-10-24T12:00:00.000Z", ["2026-10-25T00:30:00.000Z", "2026-10-26T01:30:00.000Z"]),
        ("Europe/Berlin", "0 * * * *", "2026-10-24T23:30:00.000Z",
         ["2026-10-25T00:00:00.000Z", "2026-10-25T02:00:00.000Z", "2026-10-25T03:00:00.000Z"]),
        // New York: 2026-03-08 02:00 EST -> 03:00 EDT (07:00Z); 2026-11-01 02:00 EDT -> 01:00 EST (06:00Z).
        ("America/New_York", "30 2 * * *", "2026-03-07T12:00:00.000Z", ["2026-03-08T07:00:00.000Z", "2026-03-09T06:30:00.000Z"]),
        ("America/New_York", "30 1 * * *", "2026-10-31T12:00:00.000Z", ["2026-11-01T05:30:00.000Z", "2026-11-02T06:30:00.000Z"]),
        ("UTC", "*/20 9-10 * * mon-fri", "2026-12-04T10:30:00.000Z",
         ["2026-12-04T10:40:00.000Z", "2026-12-07T09:00:00.000Z", "2026-12-07T09:20:00.000Z"]),
    ])
    func knownTicks(zoneName: String, expression: String, start: String, expected: [String]) throws {
        let got = try Self.ticks(expression, try Self.zone(zoneName), after: Self.seconds(start), count: expected.count)
        #expect(got.map(Self.text) == expected)
    }

    // MARK: - The table against Python's zoneinfo

    static let expressions = [
        "30 2 * * *", "0 2 * * *", "59 1 * * *", "0 3 * * *", "*/15 * * * *", "0 * * * *", "5,35 1-3 * * *",
        "0 0 * * 0", "30 2 * * sun", "0 12 1,15 * fri", "*/7 2 * * *", "@daily", "@hourly", "15 3 * * *", "45 1 * 10,11 0",
    ]
    /// Zones with different rules (EU, US, the southern hemisphere, a
    /// half-hour change), each from two days before its two 2026 changes.
    static let zoneStarts = [
        ("Europe/Berlin", ["2026-03-27T00:00:00.000Z", "2026-10-23T00:00:00.000Z"]),
        ("America/New_York", ["2026-03-06T00:00:00.000Z", "2026-10-30T00:00:00.000Z"]),
        ("Australia/Sydney", ["2026-04-03T00:00:00.000Z", "2026-10-02T00:00:00.000Z"]),
        ("Australia/Lord_Howe", ["2026-04-03T00:00:00.000Z", "2026-10-02T00:00:00.000Z"]),
    ]
    /// Every tick within this window after the start is compared.
    static let windowSeconds: Int64 = 4 * 86_400

    @Test func matchesPythonZoneinfoAcrossDaylightSavingChanges() throws {
        var cases: [[String: Any]] = []
        var ours: [[Int64]] = []
        for (zoneName, starts) in Self.zoneStarts {
            let zone = try Self.zone(zoneName)
            for expression in Self.expressions {
                for start in starts.map(Self.seconds) {
                    cases.append(["zone": zoneName, "cron": expression, "start": start, "end": start + Self.windowSeconds])
                    let cron = try CronExpression(expression)
                    var ticks: [Int64] = []
                    var time = start
                    while let next = cron.nextInstant(after: time, in: zone), next <= start + Self.windowSeconds {
                        ticks.append(next)
                        time = next
                    }
                    ours.append(ticks)
                }
            }
        }
        let theirs = try PythonCron.ticks(cases)
        #expect(theirs.count == cases.count)
        var mismatches: [String] = []
        for (index, expected) in theirs.enumerated() where expected != ours[index] {
            mismatches.append("\(cases[index]["zone"]!) \"\(cases[index]["cron"]!)\" after \(Self.text(cases[index]["start"] as! Int64)): "
                + "ours \(ours[index].map(Self.text)), zoneinfo \(expected.map(Self.text))")
        }
        #expect(mismatches.isEmpty, Comment(rawValue: "\(mismatches.count) of \(cases.count) differ:\n" + mismatches.prefix(10).joined(separator: "\n")))
        // The table is not empty: hundreds of ticks, some inside each change.
        #expect(ours.map(\.count).reduce(0, +) > 1000)
    }

    // MARK: - Parsing

    @Test(arguments: [
        ("* * * *", "expected 5 fields"), ("60 * * * *", "minute"), ("* 24 * * *", "hour"), ("* * 0 * *", "day-of-month"),
        ("* * * 13 *", "month"), ("* * * * 8", "day-of-week"), ("*/0 * * * *", "step"), ("5-1 * * * *", "backwards"),
        ("@reboot", "unknown name"), ("* * * foo *", "month"), ("1,,2 * * * *", "empty"), ("a * * * *", "minute"),
    ])
    func refusesBadExpressions(expression: String, complaint: String) {
        #expect {
            _ = try CronExpression(expression)
        } throws: { error in
            "\(error)".contains(complaint)
        }
    }

    @Test func namesStepsAndSundayAsSeven() throws {
        let utc = TimeZoneRules.utc
        let start = Self.seconds("2026-12-03T00:00:00.000Z")  // a Thursday
        #expect(try Self.ticks("0 0 * * 7", utc, after: start, count: 1).map(Self.text) == ["2026-12-06T00:00:00.000Z"])
        #expect(try Self.ticks("0 0 * * SUN", utc, after: start, count: 1) == Self.ticks("0 0 * * 0", utc, after: start, count: 1))
        #expect(try Self.ticks("0 0 1 JAN-MAR/2 *", utc, after: start, count: 2).map(Self.text)
            == ["2027-01-01T00:00:00.000Z", "2027-03-01T00:00:00.000Z"])
        #expect(try Self.ticks("50/5 * * * *", utc, after: start, count: 3).map(Self.text)
            == ["2026-12-03T00:50:00.000Z", "2026-12-03T00:55:00.000Z", "2026-12-03T01:50:00.000Z"])
        #expect(try Self.ticks("@yearly", utc, after: start, count: 1).map(Self.text) == ["2027-01-01T00:00:00.000Z"])
    }

    @Test func dayOfMonthAndDayOfWeekCombineAsInVixieCron() throws {
        let utc = TimeZoneRules.utc
        let start = Self.seconds("2026-12-01T00:00:00.000Z")  // a Tuesday
        // Both restricted: the 13th, or any Friday.
        #expect(try Self.ticks("0 0 13 * fri", utc, after: start, count: 3).map(Self.text)
            == ["2026-12-04T00:00:00.000Z", "2026-12-11T00:00:00.000Z", "2026-12-13T00:00:00.000Z"])
        // Day of month "*": Fridays only.
        #expect(try Self.ticks("0 0 * * fri", utc, after: start, count: 2).map(Self.text)
            == ["2026-12-04T00:00:00.000Z", "2026-12-11T00:00:00.000Z"])
        // Day of week starting with "*": the day of month alone.
        #expect(try Self.ticks("0 0 13 * */2", utc, after: start, count: 1).map(Self.text) == ["2026-12-13T00:00:00.000Z"])
    }

    @Test func neverMatchingExpressionHasNoNextTick() throws {
        #expect(try CronExpression("0 0 30 2 *").nextInstant(after: 0, in: .utc) == nil)
    }

    @Test func everyCountsFromTheAnchor() {
        let anchor = Timestamp(millisecondsSinceEpoch: 10_000)
        let every = ScheduleTiming.every(milliseconds: 3000)
        #expect(every.nextTick(after: anchor, anchor: anchor)?.rawValue == 13_000)
        #expect(every.nextTick(after: Timestamp(millisecondsSinceEpoch: 12_999), anchor: anchor)?.rawValue == 13_000)
        #expect(every.nextTick(after: Timestamp(millisecondsSinceEpoch: 13_000), anchor: anchor)?.rawValue == 16_000)
        #expect(every.nextTick(after: Timestamp(millisecondsSinceEpoch: 5_000), anchor: anchor)?.rawValue == 13_000)
    }

    @Test func readsTheFooterRuleBeyondTheFilesTransitions() throws {
        // Slim and fat tzdata alike: 2100's changes come from the POSIX rule.
        let berlin = try Self.zone("Europe/Berlin")
        #expect(berlin.offset(at: Self.seconds("2100-07-01T00:00:00.000Z")) == 7200)
        #expect(berlin.offset(at: Self.seconds("2100-12-01T00:00:00.000Z")) == 3600)
        // Last Sunday of March 2100 is the 28th: 01:00Z.
        #expect(berlin.offset(at: Self.seconds("2100-03-28T00:59:59.000Z")) == 3600)
        #expect(berlin.offset(at: Self.seconds("2100-03-28T01:00:00.000Z")) == 7200)
        #expect(throws: TimeZoneError.self) { try TimeZoneRules(name: "x", tzif: Array("not a zone".utf8)) }
    }
}

/// An independent implementation of the ticks in a window: Python's `zoneinfo` (the same
/// system tz database) and a minute-by-minute walk over UTC. A local minute
/// fires at its first occurrence; minutes skipped by a gap fire at the first
/// minute after it.
enum PythonCron {
    static let script = #"""
import json, sys
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

MONTHS = "jan feb mar apr may jun jul aug sep oct nov dec".split()
DAYS = "sun mon tue wed thu fri sat".split()
NAMES = {"@daily": "0 0 * * *", "@hourly": "0 * * * *", "@weekly": "0 0 * * 0", "@monthly": "0 0 1 * *", "@yearly": "0 0 1 1 *"}

def field(text, lo, hi, names=(), base=0):
    def value(t):
        t = t.lower()
        return names.index(t) + base if t in names else int(t)
    out = set()
    for item in text.split(","):
        part, _, step = item.partition("/")
        step = int(step) if step else 1
        if part == "*": a, b = lo, hi
        elif "-" in part: a, b = map(value, part.split("-"))
        else: a = value(part); b = hi if step != 1 or "/" in item else a
        out.update(range(a, b + 1, step))
    return out

def parse(expr):
    expr = NAMES.get(expr, expr)
    f = expr.split()
    dow = field(f[4], 0, 7, DAYS)
    if 7 in dow: dow.add(0)
    return (field(f[0], 0, 59), field(f[1], 0, 23), field(f[2], 1, 31), field(f[3], 1, 12, MONTHS, 1), dow,
            f[2].startswith("*"), f[4].startswith("*"))

def matches(c, wall):
    mins, hours, doms, months, dows, domstar, dowstar = c
    if wall.minute not in mins or wall.hour not in hours or wall.month not in months: return False
    dom = wall.day in doms
    dow = (wall.isoweekday() % 7) in dows
    return (dom and dow) if (domstar or dowstar) else (dom or dow)

def naive(t, zone):
    return datetime.fromtimestamp(t, zone).replace(tzinfo=None)

def ticks(case):
    zone = ZoneInfo(case["zone"])
    c = parse(case["cron"])
    u = (case["start"] // 60 + 1) * 60
    found = []
    while u <= case["end"]:
        local = datetime.fromtimestamp(u, zone)
        fire = matches(c, local) and local.fold == 0
        if not fire:
            before, now = naive(u - 60, zone), local.replace(tzinfo=None)
            gap = int((now - before).total_seconds()) // 60 - 1
            fire = any(matches(c, before + timedelta(minutes=k)) for k in range(1, gap + 1))
        if fire: found.append(u)
        u += 60
    return found

print(json.dumps([ticks(c) for c in json.load(sys.stdin)]))
"""#

    static func ticks(_ cases: [[String: Any]]) throws -> [[Int64]] {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        process.arguments = ["-c", script]
        let input = Pipe(), output = Pipe()
        process.standardInput = input
        process.standardOutput = output
        try process.run()
        input.fileHandleForWriting.write(try JSONSerialization.data(withJSONObject: cases))
        try input.fileHandleForWriting.close()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw CocoaError(.executableLoad) }
        let decoded = try JSONSerialization.jsonObject(with: data) as! [[NSNumber]]
        return decoded.map { $0.map(\.int64Value) }
    }
}
