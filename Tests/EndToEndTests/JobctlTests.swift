import Foundation
import Testing

/// jobctl against a real daemon: every command, option and exit status of CLI.md.
@Suite(.blocking) struct JobctlTests {
    func jobs(_ d: Daemon) throws -> Int { (try d.client().call("list", ["limit": 1000])["jobs"] as! [Any]).count }

    @Test func enqueuePrintsOnlyTheIdAndReadsThePayloadFromEveryWhere() throws {
        let d = try Daemon()
        let plain = try Jobctl.run(["enqueue", "noop"], socket: d.socket)
        #expect(plain.status == 0 && plain.stderr.isEmpty)
        let id = try #require(Int(plain.stdout.trimmingCharacters(in: .newlines)), "stdout: \(plain.stdout)")
        #expect(plain.stdout == "\(id)\n")
        let argument = try Jobctl.run(["enqueue", "echo", #"{"from": "argument"}"#, "--wait"], socket: d.socket)
        #expect(argument.stdout == #"{"from": "argument"}"# + "\n")
        let file = d.folder + "/payload.json"
        try #"{"from":"file"}"#.write(toFile: file, atomically: true, encoding: .utf8)
        #expect(try Jobctl.run(["enqueue", "echo", "--payload-file", file, "--wait"], socket: d.socket).stdout == #"{"from":"file"}"# + "\n")
        let stdin = try Jobctl.run(["enqueue", "echo", "--payload-file", "-", "--wait"], socket: d.socket, stdin: #""from stdin""#)
        #expect(stdin.stdout == "from stdin\n")  // a string result prints as raw text
        let json = try Jobctl.run(["enqueue", "noop", "--json"], socket: d.socket)
        let object = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any]
        #expect(object?["state"] as? String != nil && object?["duplicate"] as? Bool == false)
    }

    @Test func waitExitStatuses() throws {
        let d = try Daemon()
        #expect(try Jobctl.run(["enqueue", "noop", "--wait"], socket: d.socket).status == 0)
        let failed = try Jobctl.run(["enqueue", "fail", #"{"message":"nope"}"#, "--max-attempts", "1", "--wait"], socket: d.socket)
        #expect(failed.status == 1 && failed.stderr.contains("nope") && failed.stderr.hasPrefix("jobctl: "))
        let slow = try Jobctl.run(["enqueue", "sleep", #"{"ms":60000}"#, "--wait", "--wait-timeout", "300ms"], socket: d.socket)
        #expect(slow.status == 124)
        let id = try d.client().enqueue("sleep", ["payload": ["ms": 60_000]])
        #expect(try Jobctl.run(["wait", "\(id)", "--timeout", "200ms"], socket: d.socket).status == 124)
        try d.client().call("cancel", ["id": id])
        #expect(try Jobctl.run(["wait", "\(id)"], socket: d.socket).status == 1)
        let json = try Jobctl.run(["--json", "wait", "\(id)"], socket: d.socket)
        #expect(json.stdout.contains(#""state":"cancelled""#))
    }

    @Test func delayAndAtScheduleTheJob() throws {
        let d = try Daemon()
        let delayed = Int(try Jobctl.run(["enqueue", "noop", "--delay", "5m"], socket: d.socket).stdout.trimmingCharacters(in: .newlines))!
        let job = try d.client().get(delayed)
        #expect(job["state"] as? String == "scheduled")
        let created = ScheduleTests.date(job["created_at"])!
        let runAt = ScheduleTests.date(job["run_at"])!
        #expect(abs(runAt.timeIntervalSince(created) - 300) < 0.01)
        let at = Int(try Jobctl.run(["enqueue", "noop", "--at", "2099-01-02T03:04:05Z"], socket: d.socket).stdout.trimmingCharacters(in: .newlines))!
        #expect(try d.client().get(at)["run_at"] as? String == "2099-01-02T03:04:05.000Z")
        let relative = Int(try Jobctl.run(["enqueue", "noop", "--at", "1h"], socket: d.socket).stdout.trimmingCharacters(in: .newlines))!
        #expect(try d.client().get(relative)["state"] as? String == "scheduled")
    }

    @Test func execRunsInTheCallersFolder() throws {
        let d = try Daemon(config: "handlers:\n  exec: { builtin: exec }\n")
        let run = try Jobctl.run(["exec", "--wait", "--", "pwd"], socket: d.socket, folder: d.folder)
        #expect(run.status == 0 && run.stdout == d.folder + "\n", "\(run)")
        let args = try Jobctl.run(["exec", "--wait", "--", "printf", "%s|", "a b", "--json"], socket: d.socket)
        #expect(args.stdout == "a b|--json|\n")  // sent as typed, even flags after --
    }

    @Test func humanOutputHasNoColorsInAPipeAndTablesAreAligned() throws {
        let d = try Daemon()
        _ = try Jobctl.run(["enqueue", "noop", "--wait"], socket: d.socket)
        _ = try Jobctl.run(["enqueue", "echo", "1", "--queue", "longer-queue-name", "--wait"], socket: d.socket)
        let list = try Jobctl.run(["list"], socket: d.socket)
        #expect(list.status == 0 && !list.stdout.contains("\u{1B}"))
        let lines = list.stdout.split(separator: "\n")
        #expect(lines.count == 3 && lines[0].hasPrefix("ID") && lines[0].contains("AGE"))
        #expect(lines[1].range(of: "succeeded")?.lowerBound.utf16Offset(in: lines[1]) == lines[2].range(of: "succeeded")?.lowerBound.utf16Offset(in: lines[2]))
        #expect(lines[1].hasSuffix("ago"))
        let status = try Jobctl.run(["status"], socket: d.socket)
        #expect(status.stdout.contains("longer-queue-name") && status.stdout.contains("SUCCEEDED"))
        let one = try Jobctl.run(["status", "1"], socket: d.socket)
        #expect(one.stdout.contains("job 1") && one.stdout.contains("succeeded") && one.stdout.contains("attempts 1/5"))
        #expect(try Jobctl.run(["stats"], socket: d.socket).stdout.contains("workers:"))
        #expect(try Jobctl.run(["ping"], socket: d.socket).stdout.contains("protocol 1"))
    }

    @Test func globalOptionsGoBeforeOrAfterAndJSONIsOneObjectPerLine() throws {
        let d = try Daemon()
        _ = try Jobctl.run(["enqueue", "noop", "--wait"], socket: d.socket)
        let before = try Jobctl.run(["--json", "status", "1"], socket: d.socket)
        let after = try Jobctl.run(["status", "1", "--json"], socket: d.socket)
        #expect(before.stdout == after.stdout && before.stdout.hasPrefix("{\"id\":1,"))
        let list = try Jobctl.run(["list", "--json"], socket: d.socket).stdout.split(separator: "\n")
        #expect(list.count == 1 && list[0].hasPrefix("{"))
        #expect(try Jobctl.run(["--json", "stats"], socket: d.socket).stdout.hasPrefix(#"{"queues":"#))
    }

    @Test func theSocketFlagWinsOverTheEnvironment() throws {
        let d = try Daemon()
        #expect(try Jobctl.run(["ping"], socket: d.socket).status == 0)
        #expect(try Jobctl.run(["ping", "--socket", d.socket], socket: "/nonexistent/x.sock").status == 0)
        #expect(try Jobctl.run(["--socket", "/nonexistent/x.sock", "ping"], socket: d.socket).status == 3)
    }

    @Test func noDaemonIsExit3NamingThePath() throws {
        let d = try Daemon(start: false)
        let missing = try Jobctl.run(["ping"], socket: d.folder + "/none.sock")
        #expect(missing.status == 3 && missing.stderr.contains(d.folder + "/none.sock") && missing.stderr.contains("jobqueued"))
        // A stale socket file: bound once, nobody listening.
        let stale = d.folder + "/stale.sock"
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        _ = withUnixAddress(stale) { bind(fd, $0, $1) }
        close(fd)
        let refused = try Jobctl.run(["enqueue", "noop"], socket: stale)
        #expect(refused.status == 3 && refused.stderr.contains(stale))
    }

    @Test func unknownJobsAreExit4() throws {
        let d = try Daemon()
        for arguments in [["status", "999"], ["wait", "999"], ["cancel", "999"], ["retry", "999"]] {
            let run = try Jobctl.run(arguments, socket: d.socket)
            #expect(run.status == 4 && run.stderr == "jobctl: job 999 not found\n", "\(arguments): \(run)")
        }
    }

    @Test func usageErrorsSendNothing() throws {
        let d = try Daemon()
        let before = try jobs(d)
        for arguments in [["enqueue", "noop", "{not json"], ["enqueue", "noop", "--delay", "10"], ["enqueue", "noop", "--bogus"],
                          ["enqueue", "noop", "--delay", "1s", "--at", "1m"], ["wait", "abc"], ["cancel", "0"],
                          ["enqueue", "noop", "--payload-file", "/nonexistent"], ["list", "--state", "done"], ["exec", "--wait"]] {
            let run = try Jobctl.run(arguments, socket: d.socket)
            #expect(run.status == 2 && run.stderr.hasPrefix("jobctl: ") && run.stdout.isEmpty, "\(arguments): \(run)")
            #expect(run.stderr.split(separator: "\n").count == 1, "\(arguments): one line, got \(run.stderr)")
        }
        #expect(try jobs(d) == before)
    }

    @Test func cancelRetryPauseResume() throws {
        let d = try Daemon()
        let id = Int(try Jobctl.run(["enqueue", "noop", "--delay", "1h"], socket: d.socket).stdout.trimmingCharacters(in: .newlines))!
        #expect(try Jobctl.run(["cancel", "\(id)"], socket: d.socket).stdout == "\(id) cancelled\n")
        #expect(try Jobctl.run(["cancel", "\(id)"], socket: d.socket).status == 1)
        #expect(try Jobctl.run(["pause", "default"], socket: d.socket).stdout == "queue default paused\n")
        #expect(try Jobctl.run(["retry", "\(id)"], socket: d.socket).stdout == "\(id) queued\n")
        #expect(try d.client().wait(id, timeoutMs: 200)["state"] as? String == "queued")
        #expect(try Jobctl.run(["resume", "default"], socket: d.socket).status == 0)
        #expect(try Jobctl.run(["wait", "\(id)"], socket: d.socket).status == 0)
    }

    @Test func listAllPagesThroughEverything() throws {
        let d = try Daemon()
        _ = try d.client().call("enqueue_batch", ["jobs": (0..<250).map { _ in ["handler": "noop", "tags": ["t"]] }])
        #expect(try Jobctl.run(["list", "--limit", "100", "--json"], socket: d.socket).stdout.split(separator: "\n").count == 100)
        #expect(try Jobctl.run(["list", "--limit", "100", "--all", "--json", "--tag", "t"], socket: d.socket).stdout.split(separator: "\n").count == 250)
    }

    @Test func helpForEveryCommandWithAnExample() throws {
        let help = try Jobctl.run(["help"], socket: nil)
        #expect(help.status == 0 && help.stdout.contains("--socket") && help.stdout.contains("Exit status"))
        for command in ["enqueue", "exec", "status", "wait", "list", "cancel", "retry", "pause", "resume", "stats", "top", "dashboard", "ping"] {
            let run = try Jobctl.run([command, "--help"], socket: nil)
            #expect(run.status == 0 && run.stdout.contains("Example: jobctl \(command)"), "\(command)")
        }
    }
}
