import Testing
@testable import JobCore

@Suite struct ConfigValueParsingTests {
    @Test(arguments: [("500ms", Int64(500)), ("30s", 30_000), ("5m", 300_000), ("2h", 7_200_000), ("7d", 604_800_000), ("0s", 0)])
    func durations(text: String, ms: Int64) throws {
        #expect(try DurationText.milliseconds(from: text) == ms)
    }

    @Test(arguments: ["", "30", "s", "1.5s", "-1s", "30sec", "10 s", "1h30m", "99999999999999999999d"])
    func badDurations(text: String) {
        #expect(throws: ConfigValueError.self) { try DurationText.milliseconds(from: text) }
    }

    @Test(arguments: [("512", Int64(512)), ("512B", 512), ("64KiB", 65_536), ("1MiB", 1_048_576), ("2GiB", 2_147_483_648)])
    func sizes(text: String, bytes: Int64) throws {
        #expect(try ByteSize.bytes(from: text) == bytes)
    }

    @Test(arguments: ["", "KiB", "64KB", "1mb", "1.5MiB", "-1", "64 KiB"])
    func badSizes(text: String) {
        #expect(throws: ConfigValueError.self) { try ByteSize.bytes(from: text) }
    }

    @Test func errorNamesTheTextAndTheUnits() {
        do {
            _ = try DurationText.milliseconds(from: "3w")
            Issue.record("no error")
        } catch {
            #expect(error.description.contains("\"3w\""))
            #expect(error.description.contains("ms, s, m, h or d"))
        }
    }
}
