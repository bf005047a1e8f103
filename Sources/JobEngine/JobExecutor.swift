import Foundation
import JobCore
import Logging

/// Runs one attempt of a job with its handler: a builtin, or a command under
/// the command-handler contract of DAEMON.md.
struct JobExecutor: Sendable {
    var maxResultBytes: Int
    var logger: Logger
    var clock: @Sendable () -> Timestamp

    func run(_ job: Job, handler: HandlerConfig, handle: CommandHandle) async -> AttemptOutcome {
        switch handler.kind {
        case .builtin(.noop):
            return .succeeded(result: .null, truncated: false)
        case .builtin(.echo):
            return .succeeded(result: job.payload, truncated: false)
        case .builtin(.sleep):
            return await sleep(job)
        case .builtin(.fail):
            let message = (try? JSONReader.parse(Array(job.payload.text.utf8)))?.member("message")?.string ?? "failed on purpose"
            return .failed(JobFailure(message: message, at: clock()), permanent: false)
        case .builtin(.exec):
            switch ExecPayload.parse(job.payload) {
            case .failure(let problem):
                return .failed(JobFailure(message: "exec: \(problem)", at: clock()), permanent: true)
            case .success(let exec):
                let environment = handler.env.merging(exec.env) { $1 }
                return await runCommand(job, argv: exec.argv, environment: environment,
                                        workingDirectory: exec.cwd ?? handler.workingDirectory, handle: handle)
            }
        case .command(let argv):
            return await runCommand(job, argv: argv, environment: handler.env, workingDirectory: handler.workingDirectory, handle: handle)
        case .external:
            // Claimed by the daemon while the config said otherwise (a reload
            // in between): the next attempt goes to the workers.
            return .failed(JobFailure(message: "handler \"\(job.handler)\" is served by external workers now", at: clock()), permanent: false)
        }
    }

    private func sleep(_ job: Job) async -> AttemptOutcome {
        guard let ms = (try? JSONReader.parse(Array(job.payload.text.utf8)))?.member("ms")?.integer, ms >= 0 else {
            return .failed(JobFailure(message: "sleep: payload.ms must be a non-negative integer", at: clock()), permanent: true)
        }
        do {
            try await Task.sleep(for: .milliseconds(min(ms, job.timeoutMs)))
        } catch {
            return .failed(JobFailure(message: "cancelled", at: clock()), permanent: true)
        }
        if ms > job.timeoutMs {
            return .failed(JobFailure(message: JobFailure.timeoutMessagePrefix + "\(job.timeoutMs) ms", at: clock()), permanent: false)
        }
        return .succeeded(result: .null, truncated: false)
    }

    /// What a handler gets from the daemon's own environment, read once
    /// (building `ProcessInfo.environment` copies the whole environment).
    private static let inherited: [String: String] = {
        let daemon = ProcessInfo.processInfo.environment
        return ["PATH", "HOME", "LANG"].reduce(into: [:]) { $0[$1] = daemon[$1] }
    }()

    private func runCommand(_ job: Job, argv: [String], environment extra: [String: String], workingDirectory: String?,
                            handle: CommandHandle) async -> AttemptOutcome {
        let started = clock()
        var environment = Self.inherited
        environment.merge(extra) { $1 }
        environment["JOB_ID"] = String(job.id.rawValue)
        environment["JOB_QUEUE"] = job.queue
        environment["JOB_HANDLER"] = job.handler
        environment["JOB_ATTEMPT"] = String(job.attempts)
        environment["JOB_MAX_ATTEMPTS"] = String(job.maxAttempts)
        environment["JOB_DEADLINE"] = started.adding(milliseconds: job.timeoutMs).rfc3339

        let spec = CommandSpec(argv: argv, environment: environment, workingDirectory: workingDirectory,
                               stdin: Array(job.payload.text.utf8), timeoutMs: job.timeoutMs, maxResultBytes: maxResultBytes)
        let result: Result<CommandOutcome, CommandRunner.Failure> = await withCheckedContinuation { continuation in
            // A thread of its own: the runner blocks in poll() for the whole attempt.
            Thread { continuation.resume(returning: Result { () throws(CommandRunner.Failure) in try CommandRunner.run(spec, handle: handle) }) }.start()
        }
        switch result {
        case .failure(let failure):
            return .failed(JobFailure(message: failure.description, at: clock()), permanent: true)
        case .success(let outcome):
            let stderr = outcome.stderrTail.isEmpty ? nil : String(decoding: outcome.stderrTail, as: UTF8.self)
            if let stderr { logger.debug("handler stderr", metadata: ["job": "\(job.id)", "stderr": "\(stderr)"]) }
            switch outcome.exit.verdict {
            case .succeeded:
                let (result, truncated) = Self.result(fromStdout: outcome.stdout, truncated: outcome.stdoutTruncated,
                                                      maxBytes: maxResultBytes)
                return .succeeded(result: result, truncated: truncated)
            case .retryableFailure, .permanentFailure:
                return .failed(Self.failure(outcome, stderr: stderr, timeoutMs: job.timeoutMs, at: clock()),
                               permanent: outcome.exit.verdict == .permanentFailure)
            }
        }
    }

    /// stdout as the job's result: the JSON value it printed, else a string
    /// (one trailing newline dropped); nothing printed gives null. A string
    /// is cut so that its escaped text stays within `maxBytes` too (control
    /// bytes take 6 each once escaped); the flag says whether anything was cut.
    static func result(fromStdout bytes: [UInt8], truncated: Bool, maxBytes: Int) -> (RawJSON, truncated: Bool) {
        if bytes.allSatisfy({ $0 == 0x20 || $0 == 0x0A || $0 == 0x0D || $0 == 0x09 }) { return (.null, truncated) }
        if !truncated, let value = try? JSONReader.parse(bytes) {
            return (RawJSON(validatedText: value.rawText), false)
        }
        var text = String(decoding: bytes, as: UTF8.self)
        if text.hasSuffix("\n") { text.removeLast() }
        var w = JSONWriter(capacity: min(text.utf8.count, maxBytes) + 2)
        let cut = w.string(text, contentLimit: maxBytes)
        return (RawJSON(validatedText: w.text), truncated || cut)
    }

    static func failure(_ outcome: CommandOutcome, stderr: String?, timeoutMs: Int64, at: Timestamp) -> JobFailure {
        switch outcome.exit {
        case .exited(let code):
            JobFailure(message: "exit code \(code)", exitCode: Int(code), stderr: stderr, at: at)
        case .signaled(let signal):
            JobFailure(message: "killed by signal \(signal)", signal: Int(signal), stderr: stderr, at: at)
        case .timedOut:
            JobFailure(message: JobFailure.timeoutMessagePrefix + "\(timeoutMs) ms", stderr: stderr, at: at)
        }
    }
}

/// The payload of the `exec` builtin: `{"argv": [...], "cwd": "...", "env": {...}}`.
struct ExecPayload {
    var argv: [String]
    var cwd: String?
    var env: [String: String]

    struct Problem: Error, CustomStringConvertible {
        var description: String
    }

    static func parse(_ payload: RawJSON) -> Result<ExecPayload, Problem> {
        guard let root = try? JSONReader.parse(Array(payload.text.utf8)), let members = root.members else {
            return .failure(Problem(description: "payload must be an object with argv"))
        }
        var exec = ExecPayload(argv: [], cwd: nil, env: [:])
        for (key, value) in members {
            switch key {
            case "argv":
                guard let items = value.elements, !items.isEmpty else { return .failure(Problem(description: "payload.argv must be a non-empty array of strings")) }
                for item in items {
                    guard let s = item.string else { return .failure(Problem(description: "payload.argv must be a non-empty array of strings")) }
                    exec.argv.append(s)
                }
            case "cwd":
                guard let s = value.string else { return .failure(Problem(description: "payload.cwd must be a string")) }
                exec.cwd = s
            case "env":
                guard let pairs = value.members else { return .failure(Problem(description: "payload.env must be an object of strings")) }
                for (k, v) in pairs {
                    guard let s = v.string else { return .failure(Problem(description: "payload.env.\(k) must be a string")) }
                    exec.env[k] = s
                }
            default:
                return .failure(Problem(description: "unknown field payload.\(key)"))
            }
        }
        guard !exec.argv.isEmpty else { return .failure(Problem(description: "payload.argv is required")) }
        return .success(exec)
    }
}
