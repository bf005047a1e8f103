/// A duration or size in the config file that cannot be read.
public struct ConfigValueError: Error, Hashable, Sendable, CustomStringConvertible {
    public var text: String
    public var message: String

    public var description: String { "\"\(text)\": \(message)" }
}

/// Durations as the config file writes them: `500ms`, `30s`, `5m`, `2h`, `7d`.
public enum DurationText {
    private static let units: [(suffix: String, milliseconds: Int64)] = [
        ("ms", 1), ("s", 1000), ("m", 60_000), ("h", 3_600_000), ("d", 86_400_000),
    ]

    /// The duration in milliseconds. A number needs its unit: `30` alone is
    /// refused, because seconds and milliseconds are both plausible readings.
    public static func milliseconds(from text: String) throws(ConfigValueError) -> Int64 {
        let (number, suffix) = try splitNumber(text, expecting: "a duration such as 500ms, 30s, 5m, 2h or 7d")
        guard let unit = units.first(where: { $0.suffix == suffix }) else {
            throw ConfigValueError(text: text, message: "unknown unit \"\(suffix)\"; use ms, s, m, h or d")
        }
        return try scale(number, by: unit.milliseconds, text: text)
    }
}

/// Sizes as the config file writes them: `512`, `64KiB`, `1MiB`, `2GiB`.
public enum ByteSize {
    private static let units: [(suffix: String, bytes: Int64)] = [
        ("", 1), ("B", 1), ("KiB", 1 << 10), ("MiB", 1 << 20), ("GiB", 1 << 30),
    ]

    /// The size in bytes. Only binary units: `KB`/`MB` are refused rather
    /// than guessed at.
    public static func bytes(from text: String) throws(ConfigValueError) -> Int64 {
        let (number, suffix) = try splitNumber(text, expecting: "a size such as 512, 64KiB or 1MiB")
        guard let unit = units.first(where: { $0.suffix == suffix }) else {
            throw ConfigValueError(text: text, message: "unknown unit \"\(suffix)\"; use B, KiB, MiB or GiB")
        }
        return try scale(number, by: unit.bytes, text: text)
    }
}

private func splitNumber(_ text: String, expecting: String) throws(ConfigValueError) -> (Int64, String) {
    let digits = text.prefix { $0.isASCII && $0.isNumber }
    guard !digits.isEmpty, let number = Int64(digits) else {
        throw ConfigValueError(text: text, message: "expected \(expecting)")
    }
    return (number, String(text.dropFirst(digits.count)))
}

private func scale(_ number: Int64, by factor: Int64, text: String) throws(ConfigValueError) -> Int64 {
    let (product, overflow) = number.multipliedReportingOverflow(by: factor)
    guard !overflow else { throw ConfigValueError(text: text, message: "too large") }
    return product
}
