import ArgumentParser
import JobClient
import JobCore
import JobRPC

struct Jobctl: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "jobctl",
        abstract: "Talk to a running jobqueued: enqueue jobs, follow them, manage queues.",
        discussion: """
            Global options (before or after the command):
              --socket PATH   the daemon's socket (default: $JOBQUEUE_SOCKET, else the daemon's default path)
              --json          machine-readable output: the protocol's JSON, one object per line
              --no-color      no colors (also when NO_COLOR is set or stdout is not a terminal)

            Exit status: 0 done (for wait/--wait: succeeded), 1 failed or cancelled job or a daemon error,
            2 usage error (nothing was sent), 3 no daemon on the socket, 4 no such job, 124 wait timed out.

            Example:
              id=$(jobctl enqueue thumbnail '{"path": "/srv/a.png"}') && jobctl wait "$id"
            """,
        version: "0.1.0",
        subcommands: [Enqueue.self, Exec.self, Status.self, Wait.self, List.self, Cancel.self, Retry.self,
                      Pause.self, Resume.self, Stats.self, Top.self, Dashboard.self, Workers.self, Schedules.self, Schedule.self, Ping.self]
    )
}

/// A jobctl command: `perform` does its work (called by main.swift, which
/// maps every failure to CLI.md's exit status).
protocol JobctlCommand: AsyncParsableCommand {
    func perform() async throws
}

/// Connects to the daemon, or ends with status 3 naming the socket tried.
func connect() async throws(CLIError) -> JobClient {
    do {
        return try await JobClient.connect(socketPath: globals.socketPath)
    } catch {
        throw CLIError(error)
    }
}

/// Runs a call, turning its failure into the right exit status.
func attempt<T>(_ body: () async throws(JobClientError) -> T) async throws(CLIError) -> T {
    do {
        return try await body()
    } catch {
        throw CLIError(error)
    }
}

/// A job id argument: a positive integer, else a usage error.
struct JobIDArgument: ExpressibleByArgument {
    var id: JobID

    init?(argument: String) {
        guard let n = Int64(argument), n > 0 else { return nil }
        id = JobID(n)
    }
}

/// A DURATION argument as in DAEMON.md.
struct DurationArgument: ExpressibleByArgument {
    var milliseconds: Int64

    init?(argument: String) {
        guard let ms = try? DurationText.milliseconds(from: argument) else { return nil }
        milliseconds = ms
    }

    static var defaultValueDescription: String { "a duration such as 500ms, 30s, 5m, 2h, 7d" }
}

/// Waits until the job is terminal (several `wait` calls if needed), or
/// until `timeoutMs` has passed when one is given.
func waitForEnd(_ client: JobClient, _ id: JobID, timeoutMs: Int64?) async throws(CLIError) -> Job {
    let deadline = timeoutMs.map { ContinuousClock.now + .milliseconds($0) }
    while true {
        var slice: Int64 = JobLimits.waitMs.upperBound
        if let deadline {
            let left = deadline - ContinuousClock.now
            slice = max(0, min(slice, left.components.seconds * 1000 + left.components.attoseconds / 1_000_000_000_000_000))
        }
        let job = try await attempt { () async throws(JobClientError) in try await client.wait(id, timeoutMs: slice) }
        if job.state.isTerminal { return job }
        if let deadline, ContinuousClock.now >= deadline { return job }
    }
}

/// Prints a finished job's outcome and ends with its exit status (CLI.md).
func report(_ job: Job, raw: JSONValue?) throws(CLIError) {
    if globals.json {
        print(raw?.rawText ?? Output.jobJSON(job))
    } else if job.state == .succeeded, let result = job.result {
        Output.printResult(result)
    }
    switch job.state {
    case .succeeded: return
    case .failed, .cancelled:
        let reason = job.error.map { ": \($0.message)" } ?? ""
        throw CLIError(status: 1, message: "job \(job.id) \(job.state)\(reason)")
    default:
        throw CLIError(status: CLIError.exitTimedOut, message: "job \(job.id) is still \(job.state): timed out")
    }
}
