import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// journald: when stderr is the stream systemd connected (`JOURNAL_STREAM`
/// = its device and inode), each line carries its syslog priority (`<3>`...).
public enum JournalStream {
    public static func stderrIsJournal(environment: [String: String] = ProcessInfo.processInfo.environment) -> Bool {
        guard let value = environment["JOURNAL_STREAM"] else { return false }
        let parts = value.split(separator: ":")
        guard parts.count == 2, let device = UInt64(parts[0]), let inode = UInt64(parts[1]) else { return false }
        var info = stat()
        guard fstat(STDERR_FILENO, &info) == 0 else { return false }
        return UInt64(info.st_dev) == device && UInt64(info.st_ino) == inode
    }
}

/// How long between watchdog pings: half of `WATCHDOG_USEC`, if it is meant
/// for this process.
public enum WatchdogInterval {
    public static func half(environment: [String: String] = ProcessInfo.processInfo.environment) -> Duration? {
        guard let usec = environment["WATCHDOG_USEC"].flatMap(UInt64.init), usec > 0 else { return nil }
        if let pid = environment["WATCHDOG_PID"].flatMap(Int32.init), pid != getpid() { return nil }
        return .microseconds(Int64(usec / 2))
    }
}
