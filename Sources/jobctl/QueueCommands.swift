import ArgumentParser
import Foundation
import JobClient
import JobCore
import JobRPC

struct Pause: JobctlCommand {
    static let configuration = CommandConfiguration(abstract: "Stop a queue from starting jobs (it still accepts them).",
                                                    discussion: "Example: jobctl pause images")
    @Argument(help: "The queue.")
    var queue: String

    func perform() async throws { try await setPaused(queue, method: "pause") }
}

struct Resume: JobctlCommand {
    static let configuration = CommandConfiguration(abstract: "Let a paused queue start jobs again.",
                                                    discussion: "Example: jobctl resume images")
    @Argument(help: "The queue.")
    var queue: String

    func perform() async throws { try await setPaused(queue, method: "resume") }
}

private func setPaused(_ queue: String, method: String) async throws {
    let client = try await connect()
    defer { client.close() }
    var w = JSONWriter()
    w.object { o in o.member("queue") { $0.string(queue) } }
    let result = try await attempt { () async throws(JobClientError) in try await client.call(method, params: w) }
    print(globals.json ? result.rawText : "queue \(queue) \(method == "pause" ? "paused" : "resumed")")
}

struct Stats: JobctlCommand {
    static let configuration = CommandConfiguration(abstract: "Jobs per queue and state, workers, version, uptime.",
                                                    discussion: "Example: jobctl stats --watch (or --json)")

    @Flag(help: "Print the table again every second, each time under a line with the time (plain text, for a log or a pipe).")
    var watch = false

    @Option(help: .hidden)
    var times: Int?

    func perform() async throws {
        let client = try await connect()
        defer { client.close() }
        guard watch else { return try await printStats(client) }
        var printed = 0
        while times.map({ printed < $0 }) ?? true {
            if printed > 0 { try? await Task.sleep(for: .seconds(1)) }
            if !globals.json { print("-- \(Timestamp(millisecondsSinceEpoch: Int64(Date().timeIntervalSince1970 * 1000)).rfc3339)") }
            try await printStats(client)
            fflush(nil)  // every line out now: a pipe sees each table as it comes
            printed += 1
        }
    }
}

/// The table of `stats` and of `status` without ids.
func printStats(_ client: JobClient) async throws(CLIError) {
    let stats = try await attempt { () async throws(JobClientError) in try await client.call("stats") }
    if globals.json {
        print(stats.rawText)
        return
    }
    var rows: [[String]] = []
    for (name, queue) in (stats.member("queues")?.members ?? []).sorted(by: { $0.key < $1.key }) {
        rows.append([name] + JobState.allCases.map { String(queue.member($0.rawValue)?.integer ?? 0) }
            + [queue.member("paused")?.bool == true ? "yes" : "no", String(queue.member("concurrency")?.integer ?? 0)])
    }
    Output.table(["QUEUE"] + JobState.allCases.map { $0.rawValue.uppercased() } + ["PAUSED", "CONCURRENCY"], rows)
    let workers = stats.member("workers")
    print("workers: \(workers?.member("busy")?.integer ?? 0) busy of \(workers?.member("total")?.integer ?? 0)"
          + "   jobqueued \(stats.member("version")?.string ?? "?"), up \(Output.age(Timestamp(millisecondsSinceEpoch: 0), now: Timestamp(millisecondsSinceEpoch: stats.member("uptime_ms")?.integer ?? 0)).replacingOccurrences(of: " ago", with: ""))")
}

struct Ping: JobctlCommand {
    static let configuration = CommandConfiguration(abstract: "Check that the daemon answers.", discussion: "Example: jobctl ping")

    func perform() async throws {
        let client = try await connect()
        defer { client.close() }
        let result = try await attempt { () async throws(JobClientError) in try await client.call("ping") }
        print(globals.json ? result.rawText
              : "jobqueued \(result.member("version")?.string ?? "?") (protocol \(result.member("protocol")?.integer ?? 0)) on \(globals.socketPath)")
    }
}

extension FileHandle {
    func write(_ text: String) { write(Data(text.utf8)) }
}
