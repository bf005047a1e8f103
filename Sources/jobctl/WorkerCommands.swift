import ArgumentParser
import JobClient
import JobCore

struct Workers: JobctlCommand {
    static let configuration = CommandConfiguration(
        abstract: "List the connected external workers: name, pid and uid (from SO_PEERCRED), jobs held, last heartbeat.",
        discussion: "Example: jobctl workers --json")

    func perform() async throws {
        let client = try await connect()
        defer { client.close() }
        let answer = try await attempt { () async throws(JobClientError) in try await client.workers() }
        if globals.json {
            print(answer.rawText)
            return
        }
        let workers = answer.member("workers")?.elements ?? []
        let rows = workers.map { w -> [String] in
            let time = { (key: String) in w.member(key)?.string.flatMap(Timestamp.init(rfc3339:)) }
            return [w.member("name")?.string ?? "-", String(w.member("pid")?.integer ?? 0), String(w.member("uid")?.integer ?? 0),
                    String(w.member("jobs_held")?.integer ?? 0), Output.age(time("last_heartbeat_at")), Output.age(time("connected_at"))]
        }
        Output.table(["NAME", "PID", "UID", "JOBS", "LAST HEARTBEAT", "CONNECTED"], rows)
        if workers.isEmpty { print("no external worker is connected") }
    }
}
