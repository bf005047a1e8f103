import Testing
@testable import JobCore

@Suite struct TimestampTests {
    @Test func formatsUTCWithMilliseconds() {
        #expect(Timestamp(millisecondsSinceEpoch: 0).rfc3339 == "1970-01-01T00:00:00.000Z")
        #expect(Timestamp(millisecondsSinceEpoch: 1_795_948_530_123).rfc3339 == "2026-11-29T10:35:30.123Z")
        #expect(Timestamp(millisecondsSinceEpoch: 951_782_400_000).rfc3339 == "2000-02-29T00:00:00.000Z")
        #expect(Timestamp(millisecondsSinceEpoch: -1).rfc3339 == "1969-12-31T23:59:59.999Z")
    }

    @Test(arguments: [
        ("2026-11-29T10:35:30.123Z", Int64(1_795_948_530_123)),
        ("2026-11-29T10:35:30Z", 1_795_948_530_000),
        ("2026-11-29t10:35:30z", 1_795_948_530_000),
        ("2026-11-29 10:35:30Z", 1_795_948_530_000),
        ("2026-11-29T11:35:30.123+01:00", 1_795_948_530_123),
        ("2026-11-29T05:05:30.123-05:30", 1_795_948_530_123),
        ("2026-11-29T10:35:30.1Z", 1_795_948_530_100),
        ("2026-11-29T10:35:30.1231Z", 1_795_948_530_124),  // finer digits round up
        ("2026-11-29T10:35:30.123000Z", 1_795_948_530_123),
        ("2026-11-29T10:35:30.999999Z", 1_795_948_531_000),
        ("2000-02-29T00:00:00Z", 951_782_400_000),
    ])
    func parses(text: String, milliseconds: Int64) {
        #expect(Timestamp(rfc3339: text)?.millisecondsSinceEpoch == milliseconds)
    }

    @Test(arguments: [
        "", "2026-11-29", "2026-11-29T10:35:30", "2026-13-01T00:00:00Z", "2026-02-29T00:00:00Z",
        "2026-11-31T00:00:00Z", "2026-11-29T24:00:00Z", "2026-11-29T10:60:00Z", "2026-11-29T10:35:30.Z",
        "2026-11-29T10:35:30+0100", "2026-11-29T10:35:30Zjunk", "26-11-29T10:35:30Z", "2026-11-29T10:35:30.12a3Z",
    ])
    func refuses(text: String) {
        #expect(Timestamp(rfc3339: text) == nil)
    }

    @Test func roundTripsThroughText() {
        for ms in stride(from: Int64(-86_400_000 * 400), through: 4_102_444_800_000, by: 86_400_000 * 37 + 12_345) {
            let t = Timestamp(millisecondsSinceEpoch: ms)
            #expect(Timestamp(rfc3339: t.rfc3339) == t)
        }
    }

    @Test func addingSaturates() {
        #expect(Timestamp(millisecondsSinceEpoch: 5).adding(milliseconds: 10).millisecondsSinceEpoch == 15)
        #expect(Timestamp(millisecondsSinceEpoch: .max - 1).adding(milliseconds: 10).millisecondsSinceEpoch == .max)
    }
}
