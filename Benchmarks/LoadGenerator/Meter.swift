import Foundation
import JobCore

/// What one workload cost the daemon, counted around it: commits, writes
/// and WAL bytes (the daemon's own `stats.storage`), context switches of its threads
/// (/proc, or perf when it runs), and fsync calls (`perf stat` on the daemon's
/// process, when perf is installed and we may use it; the machine-independent
/// figure that decides speed on a real disk).
final class Meter {
    private let pid: Int32
    private let client: SocketClient
    private let storageBefore: (commits: Int, writes: Int, walBytes: Int)
    private let switchesBefore: Int
    private let cpuTicksBefore: Int
    private var perf: Process?
    private let perfOutput: String

    /// Whether `perf stat` can count this machine's syscalls (root and linux-perf).
    static let perfAvailable: Bool = {
        guard getuid() == 0, FileManager.default.isExecutableFile(atPath: "/usr/bin/perf") else { return false }
        let trial = Process()
        trial.executableURL = URL(fileURLWithPath: "/usr/bin/perf")
        trial.arguments = ["stat", "-e", "syscalls:sys_enter_fdatasync", "--", "/bin/true"]
        trial.standardOutput = FileHandle.nullDevice
        trial.standardError = FileHandle.nullDevice
        guard (try? trial.run()) != nil else { return false }
        trial.waitUntilExit()
        return trial.terminationStatus == 0
    }()

    init(pid: Int32, client: SocketClient) throws {
        self.pid = pid
        self.client = client
        perfOutput = "/tmp/jqload-perf-\(getpid())-\(pid).txt"
        storageBefore = try Self.storage(client)
        switchesBefore = Self.contextSwitches(pid)
        cpuTicksBefore = Self.cpuTicks(pid)
        if Self.perfAvailable {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: "/usr/bin/perf")
            p.arguments = ["stat", "-x", ",", "-o", perfOutput, "-p", String(pid),
                           "-e", "syscalls:sys_enter_fdatasync,syscalls:sys_enter_fsync,context-switches"]
            p.standardError = FileHandle.nullDevice
            try p.run()
            perf = p
            usleep(300_000)  // perf attaches to every thread before the workload starts
        }
    }

    /// The figures per job (`jobs`) and per request (`requests`), named after `workload`.
    func stop(_ workload: String, jobs: Int, requests: Int) throws -> [Figure] {
        var fsyncs: Int?
        var switches = Self.contextSwitches(pid) - switchesBefore
        let cpuSeconds = Double(Self.cpuTicks(pid) - cpuTicksBefore) / Double(sysconf(Int32(_SC_CLK_TCK)))
        if let perf {
            kill(perf.processIdentifier, SIGINT)
            perf.waitUntilExit()
            if let text = try? String(contentsOfFile: perfOutput, encoding: .utf8) {
                var counts: [String: Int] = [:]
                for line in text.split(separator: "\n") where !line.hasPrefix("#") {
                    let fields = line.split(separator: ",", omittingEmptySubsequences: false)
                    if fields.count > 2, let n = Int(fields[0]) { counts[String(fields[2])] = n }
                }
                fsyncs = (counts["syscalls:sys_enter_fdatasync"] ?? 0) + (counts["syscalls:sys_enter_fsync"] ?? 0)
                if let n = counts["context-switches"] { switches = n }
            }
            try? FileManager.default.removeItem(atPath: perfOutput)
        }
        let storage = try Self.storage(client)
        let commits = storage.commits - storageBefore.commits  // `stats` is a read: it commits nothing
        var figures = [
            Figure(name: "\(workload) commits per job", value: Double(commits) / Double(jobs), unit: "", note: "\(commits) commits"),
            // Writes the writer ran (enqueues, claims, starts, ends...): a
            // write per step of a job is work per job, shared commit or not.
            Figure(name: "\(workload) writes per job", value: Double(storage.writes - storageBefore.writes) / Double(jobs), unit: "",
                   note: "\(storage.writes - storageBefore.writes) writes"),
            Figure(name: "\(workload) WAL bytes per job", value: Double(storage.walBytes - storageBefore.walBytes) / Double(jobs),
                   unit: "B", note: "page size × frames"),
            Figure(name: "\(workload) context switches per request", value: Double(switches) / Double(requests), unit: "",
                   note: "\(switches) over \(requests) requests" + (perf == nil ? " (/proc)" : " (perf)")),
            Figure(name: "\(workload) daemon CPU per job", value: cpuSeconds * 1e6 / Double(jobs), unit: "µs",
                   note: "user + system, /proc/PID/stat"),
        ]
        if let fsyncs {
            figures.insert(Figure(name: "\(workload) fsyncs per job", value: Double(fsyncs) / Double(jobs), unit: "",
                                  note: "\(fsyncs) fsyncs, \(jobs) jobs"), at: 0)
        }
        return figures
    }

    private static func storage(_ client: SocketClient) throws -> (commits: Int, writes: Int, walBytes: Int) {
        let storage = try client.call("stats").member("storage")
        return (Int(storage?.member("commits")?.integer ?? 0), Int(storage?.member("writes")?.integer ?? 0),
                Int(storage?.member("wal_bytes")?.integer ?? 0))
    }

    /// User and system time of `pid` so far, in clock ticks.
    private static func cpuTicks(_ pid: Int32) -> Int {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let afterName = stat.range(of: ") ", options: .backwards) else { return 0 }
        // After "pid (comm) ": state is field 3; utime and stime are fields 14 and 15.
        let fields = stat[afterName.upperBound...].split(separator: " ")
        guard fields.count > 12, let user = Int(fields[11]), let system = Int(fields[12]) else { return 0 }
        return user + system
    }

    /// Voluntary and involuntary switches of every live thread of `pid`.
    private static func contextSwitches(_ pid: Int32) -> Int {
        let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task")) ?? []
        var total = 0
        for task in tasks {
            guard let status = try? String(contentsOfFile: "/proc/\(pid)/task/\(task)/status", encoding: .utf8) else { continue }
            for line in status.split(separator: "\n") where line.contains("ctxt_switches:") {
                total += Int(line.split(separator: "\t").last?.trimmingCharacters(in: .whitespaces) ?? "") ?? 0
            }
        }
        return total
    }
}
