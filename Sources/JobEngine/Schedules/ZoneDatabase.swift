import Foundation
import JobCore

/// The system's tz database (Debian's `tzdata`): `/usr/share/zoneinfo`,
/// or `$TZDIR`.
public enum ZoneDatabase {
    static var directory: String {
        ProcessInfo.processInfo.environment["TZDIR"].flatMap { $0.isEmpty ? nil : $0 } ?? "/usr/share/zoneinfo"
    }

    /// The zone of that IANA name (`Europe/Berlin`, `UTC`).
    public static func zone(named name: String) throws(TimeZoneError) -> TimeZoneRules {
        let parts = name.split(separator: "/", omittingEmptySubsequences: false)
        guard !name.isEmpty, !name.hasPrefix("/"), !parts.contains(where: { $0.isEmpty || $0 == "." || $0 == ".." }) else {
            throw TimeZoneError(message: "\"\(name)\" is not a time zone name such as Europe/Berlin")
        }
        return try read(path: directory + "/" + name, name: name)
    }

    /// The daemon's local zone: `$TZ` when it names a zone (`Europe/Berlin`
    /// or `:Europe/Berlin`), else `/etc/localtime`, else UTC.
    public static func localZone() -> TimeZoneRules {
        if var tz = ProcessInfo.processInfo.environment["TZ"], !tz.isEmpty {
            if tz.hasPrefix(":") { tz.removeFirst() }
            if tz.hasPrefix("/"), let zone = try? read(path: tz, name: tz) { return zone }
            if let zone = try? zone(named: tz) { return zone }
        }
        let link = "/etc/localtime"
        // /etc/localtime -> /usr/share/zoneinfo/Europe/Berlin: the name is the link's tail.
        var name = "localtime"
        if let target = try? FileManager.default.destinationOfSymbolicLink(atPath: link),
           let range = target.range(of: "zoneinfo/") {
            name = String(target[range.upperBound...])
        } else if let text = try? String(contentsOfFile: "/etc/timezone", encoding: .utf8) {
            let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
            if !trimmed.isEmpty { name = trimmed }
        }
        return (try? read(path: link, name: name)) ?? .utc
    }

    private static func read(path: String, name: String) throws(TimeZoneError) -> TimeZoneRules {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw TimeZoneError(message: "unknown time zone \"\(name)\" (no \(path); is tzdata installed?)")
        }
        return try TimeZoneRules(name: name, tzif: [UInt8](data))
    }
}
