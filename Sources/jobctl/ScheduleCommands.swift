import ArgumentParser
import JobClient
import JobCore

struct Schedules: JobctlCommand {
    static let configuration = CommandConfiguration(
        abstract: "List the configured schedules: name, schedule, zone, next run, last run, last job, paused.",
        discussion: "Example: jobctl schedules --json")

    func perform() async throws {
        let client = try await connect()
        defer { client.close() }
        let answer = try await attempt { () async throws(JobClientError) in try await client.schedules() }
        if globals.json {
            print(answer.rawText)
            return
        }
        let schedules = answer.member("schedules")?.elements ?? []
        let rows = schedules.map { s -> [String] in
            let time = { (key: String) in s.member(key)?.string.flatMap(Timestamp.init(rfc3339:)) }
            let timing = s.member("cron")?.string.map { "cron \($0)" } ?? s.member("every")?.string.map { "every \($0)" } ?? "-"
            let next = time("next_run_at").map { "\($0.rfc3339) (\(Output.age($0)))" } ?? "-"
            let skipped = s.member("skipped")?.integer ?? 0
            return [s.member("name")?.string ?? "-", timing, s.member("timezone")?.string ?? "-", next, Output.age(time("last_run_at")),
                    s.member("last_job_id")?.integer.map(String.init) ?? "-",
                    (s.member("paused")?.bool == true ? "yes" : "no") + (skipped > 0 ? " (\(skipped) skipped)" : "")]
        }
        Output.table(["NAME", "SCHEDULE", "ZONE", "NEXT RUN", "LAST RUN", "LAST JOB", "PAUSED"], rows)
        if schedules.isEmpty { print("no schedule is configured") }
    }
}

struct Schedule: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Pause, resume or run a schedule now.",
        subcommands: [SchedulePause.self, ScheduleResume.self, ScheduleRun.self])
}

struct SchedulePause: JobctlCommand {
    static let configuration = CommandConfiguration(
        commandName: "pause", abstract: "Stop a schedule from firing (persisted: it stays paused across restarts).",
        discussion: "Example: jobctl schedule pause nightly-report")
    @Argument(help: "The schedule's name.")
    var name: String

    func perform() async throws {
        let entry = try await scheduleCall { client throws(JobClientError) in try await client.pauseSchedule(name) }
        print(globals.json ? entry.rawText : "schedule \(name) paused")
    }
}

struct ScheduleResume: JobctlCommand {
    static let configuration = CommandConfiguration(
        commandName: "resume", abstract: "Let a paused schedule fire again (ticks missed meanwhile follow its catch_up).",
        discussion: "Example: jobctl schedule resume nightly-report")
    @Argument(help: "The schedule's name.")
    var name: String

    func perform() async throws {
        let entry = try await scheduleCall { client throws(JobClientError) in try await client.resumeSchedule(name) }
        let next = entry.member("next_run_at")?.string ?? "-"
        print(globals.json ? entry.rawText : "schedule \(name) resumed, next run \(next)")
    }
}

struct ScheduleRun: JobctlCommand {
    static let configuration = CommandConfiguration(
        commandName: "run", abstract: "Enqueue the schedule's job now, outside its ticks; prints the job id.",
        discussion: "Example: id=$(jobctl schedule run nightly-report) && jobctl wait \"$id\"")
    @Argument(help: "The schedule's name.")
    var name: String

    func perform() async throws {
        let id = try await scheduleCall { client throws(JobClientError) in try await client.triggerSchedule(name) }
        print(globals.json ? "{\"id\":\(id.rawValue)}" : "\(id.rawValue)")
    }
}

/// One call on a fresh connection, its failure mapped to jobctl's exit status.
private func scheduleCall<T>(_ body: (JobClient) async throws(JobClientError) -> T) async throws -> T {
    let client = try await connect()
    defer { client.close() }
    return try await attempt { () async throws(JobClientError) in try await body(client) }
}
