import ArgumentParser
import Foundation
import JobClient
import JobCore
import JobRPC

struct Status: JobctlCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show jobs by id, or (without ids) the count of jobs per queue and state.",
        discussion: "Example: jobctl status 42 43")

    @Argument(help: "Job ids.")
    var ids: [JobIDArgument] = []

    func perform() async throws {
        let client = try await connect()
        defer { client.close() }
        guard !ids.isEmpty else {
            try await printStats(client)
            return
        }
        var failure: CLIError?
        for argument in ids {
            do {
                let raw = try await attempt { () async throws(JobClientError) in
                    try await client.call("get", params: idParams(argument.id))
                }
                if globals.json { print(raw.rawText) } else if let job = JobJSON.read(raw) { Output.describe(job) }
            } catch {
                FileHandle.standardError.write("jobctl: \(error.message)\n")
                failure = error
            }
        }
        if let failure { throw CLIError(status: failure.status, message: "") }
    }
}

struct Wait: JobctlCommand {
    static let configuration = CommandConfiguration(
        abstract: "Wait until a job is finished; print its result (exit 1 if it failed, 124 on timeout).",
        discussion: "Example: jobctl wait 42 --timeout 5m")

    @Argument(help: "The job id.")
    var id: JobIDArgument
    @Option(help: "Give up after this long (exit 124).")
    var timeout: DurationArgument?

    func perform() async throws {
        let client = try await connect()
        defer { client.close() }
        try report(try await waitForEnd(client, id.id, timeoutMs: timeout?.milliseconds), raw: nil)
    }
}

struct List: JobctlCommand {
    static let configuration = CommandConfiguration(
        abstract: "List jobs: id, state, queue, handler, attempts, age.",
        discussion: "Example: jobctl list --state failed --all")

    @Option(help: "Only jobs in this state.")
    var state: String?
    @Option(help: "Only jobs of this queue.")
    var queue: String?
    @Option(help: "Only jobs of this handler.")
    var handler: String?
    @Option(help: "Only jobs with this tag.")
    var tag: String?
    @Option(help: "At most this many jobs (1...1000, default 100).")
    var limit: Int?
    @Flag(help: "Page through every matching job.")
    var all = false

    func validate() throws {
        if let state, JobState(rawValue: state) == nil {
            throw ValidationError("--state: one of \(JobState.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        if let limit, !(1...1000).contains(limit) { throw ValidationError("--limit must be within 1...1000") }
    }

    func perform() async throws {
        let client = try await connect()
        defer { client.close() }
        var query = ListQuery(queue: queue, state: state.flatMap(JobState.init(rawValue:)), handler: handler, tag: tag, limit: limit)
        var rows: [[String]] = []
        while true {
            let page = try await attempt { () async throws(JobClientError) in try await client.call("list", params: query.params()) }
            for element in page.member("jobs")?.elements ?? [] {
                if globals.json { print(element.rawText); continue }
                guard let job = JobJSON.read(element) else { continue }
                rows.append([String(job.id.rawValue), Output.colored(job.state), job.queue, job.handler,
                             "\(job.attempts)/\(job.maxAttempts)", Output.age(job.createdAt)])
            }
            guard all, let next = page.member("next_after_id")?.integer else { break }
            query.afterID = next
        }
        if !globals.json { Output.table(["ID", "STATE", "QUEUE", "HANDLER", "ATTEMPTS", "AGE"], rows) }
    }
}

/// `cancel` and `retry`: one call per id; the others go on when one fails.
private func eachJob(_ ids: [JobIDArgument], method: String, done: String) async throws {
    let client = try await connect()
    defer { client.close() }
    var failure: CLIError?
    for argument in ids {
        do {
            let raw = try await attempt { () async throws(JobClientError) in try await client.call(method, params: idParams(argument.id)) }
            print(globals.json ? raw.rawText : "\(argument.id) \(done)")
        } catch {
            FileHandle.standardError.write("jobctl: \(error.message)\n")
            failure = error
        }
    }
    if let failure { throw CLIError(status: failure.status, message: "") }
}

struct Cancel: JobctlCommand {
    static let configuration = CommandConfiguration(abstract: "Cancel jobs (a running one's handler is stopped).",
                                                    discussion: "Example: jobctl cancel 42 43")
    @Argument(help: "Job ids.")
    var ids: [JobIDArgument]

    func perform() async throws { try await eachJob(ids, method: "cancel", done: "cancelled") }
}

struct Retry: JobctlCommand {
    static let configuration = CommandConfiguration(abstract: "Queue failed or cancelled jobs again.",
                                                    discussion: "Example: jobctl retry 42")
    @Argument(help: "Job ids.")
    var ids: [JobIDArgument]

    func perform() async throws { try await eachJob(ids, method: "retry", done: "queued") }
}

func idParams(_ id: JobID) -> JSONWriter {
    var w = JSONWriter()
    w.object { o in o.member("id") { $0.integer(id.rawValue) } }
    return w
}
