import Foundation
import JobCore
import JobStore
import Logging

/// One event per line on stderr: time, level, message, then key=value pairs.
struct StderrLogHandler: LogHandler {
    var logLevel: Logger.Level
    var metadata: Logger.Metadata = [:]
    /// Under journald: each line starts with its syslog priority (`<3>` error ... `<7>` debug).
    var journalPrefixes = false

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        var line = (journalPrefixes ? "<\(Self.syslogPriority(event.level))>" : "")
            + "\(systemClock().rfc3339) \(event.level) \(event.message)"
        let all = metadata.merging(event.metadata ?? [:]) { $1 }
        for key in all.keys.sorted() {
            line += " \(key)=\(Self.quoted("\(all[key]!)"))"
        }
        line += "\n"
        FileHandle.standardError.write(Data(line.utf8))
    }

    static func syslogPriority(_ level: Logger.Level) -> Int {
        switch level {
        case .trace, .debug: 7
        case .info: 6
        case .notice: 5
        case .warning: 4
        case .error: 3
        case .critical: 2
        }
    }

    /// Values with spaces or quotes are quoted, and newlines escaped, so that
    /// one event stays one line.
    static func quoted(_ value: String) -> String {
        let escaped = value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\n", with: "\\n")
        guard escaped.contains(where: { $0 == " " || $0 == "\"" || $0 == "=" }) || escaped.isEmpty else { return escaped }
        return "\"" + escaped.replacingOccurrences(of: "\"", with: "\\\"") + "\""
    }
}
