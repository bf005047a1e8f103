import ArgumentParser
import Foundation
import JobClient
import JobCore
import JobRPC

/// The options `enqueue` and `exec` share.
struct JobOptions: ParsableArguments {
    @Option(help: "The queue (default: the handler's, else \"default\").")
    var queue: String?
    @Option(help: "-1000...1000; higher runs first.")
    var priority: Int?
    @Option(help: "Run no earlier than this long from now (30s, 5m, ...).")
    var delay: DurationArgument?
    @Option(help: "Run no earlier than TIME: RFC 3339 (sent as given), or a duration from now.")
    var at: String?
    @Option(name: .customLong("max-attempts"), help: "1...1000 (default: the handler's, else 5).")
    var maxAttempts: Int?
    @Option(help: "Time limit of one attempt (default: the handler's, else 60s).")
    var timeout: DurationArgument?
    @Option(help: "A unique key: while a job with it is unfinished, enqueue gives that job.")
    var unique: String?
    @Option(name: .customLong("tag"), help: "A tag (repeatable).")
    var tags: [String] = []
    @Option(name: .customLong("after"), help: "Run only once job ID has succeeded (repeatable); the job is blocked until then.")
    var after: [Int64] = []
    @Option(name: .customLong("key"), help: "A concurrency key: at most the handler's key_concurrency jobs with it run at once.")
    var key: String?
    @Flag(help: "Submit and wait for the outcome; print the result.")
    var wait = false
    @Option(name: .customLong("wait-timeout"), help: "With --wait: give up after this long (exit 124).")
    var waitTimeout: DurationArgument?

    func validate() throws {
        if delay != nil && at != nil { throw ValidationError("give --delay or --at, not both") }
        if let at, Timestamp(rfc3339: at) == nil, (try? DurationText.milliseconds(from: at)) == nil {
            throw ValidationError("--at: expected an RFC 3339 time (2026-11-29T10:15:30Z) or a duration such as 5m")
        }
        if waitTimeout != nil && !wait { throw ValidationError("--wait-timeout needs --wait") }
        if after.contains(where: { $0 < 1 }) { throw ValidationError("--after: expected a job id (a positive integer)") }
    }

    func request(handler: String, payload: RawJSON) -> EnqueueRequest {
        var request = EnqueueRequest(handler: handler, payload: payload, queue: queue, priority: priority,
                                     delayMs: delay?.milliseconds, maxAttempts: maxAttempts, timeoutMs: timeout?.milliseconds,
                                     uniqueKey: unique, tags: tags, after: after.map { JobID($0) }, concurrencyKey: key)
        if let at {
            if Timestamp(rfc3339: at) != nil { request.runAt = at } else { request.delayMs = try? DurationText.milliseconds(from: at) }
        }
        return request
    }

    /// Sends the request; prints the id (or, with --wait, the outcome).
    func submit(_ request: EnqueueRequest) async throws(CLIError) {
        let client = try await connect()
        defer { client.close() }
        guard wait else {
            let result = try await attempt { () async throws(JobClientError) in try await client.call("enqueue", params: request.params()) }
            print(globals.json ? result.rawText : String(result.member("id")?.integer ?? 0))
            return
        }
        let limit = waitTimeout?.milliseconds
        let firstWait = min(limit ?? JobLimits.waitMs.upperBound, JobLimits.waitMs.upperBound)
        let raw = try await attempt { () async throws(JobClientError) in
            try await client.call("enqueue", params: request.params(waitMs: firstWait))
        }
        guard var job = JobJSON.read(raw) else { throw CLIError(status: 1, message: "invalid job object from the daemon") }
        var rawJob: JSONValue? = raw
        if !job.state.isTerminal && limit == nil {
            job = try await waitForEnd(client, job.id, timeoutMs: nil)
            rawJob = nil
        }
        try report(job, raw: rawJob)
    }
}

struct Enqueue: JobctlCommand {
    static let configuration = CommandConfiguration(
        abstract: "Enqueue a job; print its id.",
        discussion: """
            PAYLOAD is a JSON text (default null), or give --payload-file FILE ('-' for stdin).
            Example: jobctl enqueue thumbnail '{"path": "/srv/a.png"}' --queue images --tag web
            """)

    @Argument(help: "The handler's name.")
    var handler: String
    @Argument(help: "The payload, a JSON text.")
    var payload: String?
    @Option(name: .customLong("payload-file"), help: "Read the payload from FILE ('-': stdin).")
    var payloadFile: String?
    @OptionGroup var options: JobOptions

    func validate() throws {
        if payload != nil && payloadFile != nil { throw ValidationError("give PAYLOAD or --payload-file, not both") }
    }

    /// The payload, checked before anything is sent (stdin is read here, once).
    func readPayload() throws(CLIError) -> RawJSON {
        var text = payload ?? "null"
        if let payloadFile {
            let data = payloadFile == "-" ? FileHandle.standardInput.readDataToEndOfFile() : FileManager.default.contents(atPath: payloadFile)
            guard let data else { throw .usage("cannot read --payload-file \(payloadFile)") }
            text = String(decoding: data, as: UTF8.self)
        }
        guard let value = try? JSONReader.parse(Array(text.utf8)) else {
            throw .usage("the payload is not valid JSON: \(text.prefix(40))")
        }
        return RawJSON(validatedText: value.rawText)
    }

    func perform() async throws {
        try await options.submit(options.request(handler: handler, payload: try readPayload()))
    }
}

struct Exec: JobctlCommand {
    static let configuration = CommandConfiguration(
        abstract: "Enqueue a command for the exec builtin, run in the current folder.",
        discussion: "Example: jobctl exec --wait -- make -j4 test")

    @OptionGroup var options: JobOptions
    @Argument(parsing: .postTerminator, help: "COMMAND [ARGS...], after --, sent as typed.")
    var command: [String] = []

    func validate() throws {
        if command.isEmpty { throw ValidationError("give the command after --: jobctl exec -- COMMAND [ARGS...]") }
    }

    func perform() async throws {
        var w = JSONWriter()
        w.object { o in
            o.member("argv") { $0.array(command) { w, a in w.string(a) } }
            o.member("cwd") { $0.string(FileManager.default.currentDirectoryPath) }
        }
        try await options.submit(options.request(handler: "exec", payload: RawJSON(validatedText: w.text)))
    }
}
