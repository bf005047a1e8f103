import Foundation
import Testing

/// The command-handler contract of DAEMON.md, with small shell scripts.
@Suite(.blocking) struct HandlerContractTests {
    /// A daemon whose handlers run the scripts given (name: body).
    func daemon(scripts: [String: String], handlerOptions: [String: String] = [:], limits: String = "",
                environment: [String: String]? = nil) throws -> Daemon {
        let d = try Daemon(start: false)
        var config = "handlers:\n"
        for (name, body) in scripts {
            let path = d.folder + "/\(name).sh"
            try ("#!/bin/sh\n" + body + "\n").write(toFile: path, atomically: true, encoding: .utf8)
            chmod(path, 0o755)
            config += "  \(name):\n    command: [\"\(path)\"]\n" + (handlerOptions[name].map { "    " + $0.replacingOccurrences(of: "\n", with: "\n    ") + "\n" } ?? "")
        }
        config += "  exec:\n    builtin: exec\n" + limits
        try d.writeConfig(config)
        try d.start(environment: environment)
        return d
    }

    @Test func stdinGetsThePayloadAndTheEnvironmentIsScrubbed() throws {
        var environment = ProcessInfo.processInfo.environment
        environment["SECRET"] = "leaked"
        let d = try daemon(scripts: ["env": #"""
            input=$(cat)
            printf '{"stdin":%s,"id":"%s","attempt":"%s","max":"%s","queue":"%s","handler":"%s","secret":"%s","custom":"%s","deadline":"%s","path":"%s"}' \
              "$input" "$JOB_ID" "$JOB_ATTEMPT" "$JOB_MAX_ATTEMPTS" "$JOB_QUEUE" "$JOB_HANDLER" "${SECRET:-unset}" "$CUSTOM" "$JOB_DEADLINE" "${PATH:+set}"
            """#], handlerOptions: ["env": "env: { CUSTOM: hello }"], environment: environment)
        let c = try d.client()
        let id = try c.enqueue("env", ["payload": ["n": 42]])
        let job = try c.wait(id)
        let result = try #require(job["result"] as? [String: Any], "\(job)")
        #expect((result["stdin"] as? [String: Int])?["n"] == 42)
        #expect(result["id"] as? String == "\(id)" && result["attempt"] as? String == "1" && result["max"] as? String == "5")
        #expect(result["queue"] as? String == "default" && result["handler"] as? String == "env")
        #expect(result["secret"] as? String == "unset" && result["custom"] as? String == "hello" && result["path"] as? String == "set")
        #expect((result["deadline"] as? String)?.hasSuffix("Z") == true)
    }

    @Test func exitCodesFollowSysexits() throws {
        let d = try daemon(scripts: ["code": "code=$(cat); echo \"exit $code\" >&2; exit $code"],
                           handlerOptions: ["code": "max_attempts: 3\nbackoff: { initial: 10ms, jitter: 0 }"])
        let c = try d.client()
        let ok = try c.wait(try c.enqueue("code", ["payload": 0]))
        #expect(ok["state"] as? String == "succeeded" && ok["result"] is NSNull)
        let permanent = try c.wait(try c.enqueue("code", ["payload": 65]))
        #expect(permanent["state"] as? String == "failed" && permanent["attempts"] as? Int == 1)
        #expect((permanent["error"] as? [String: Any])?["exit_code"] as? Int == 65)
        #expect(((permanent["error"] as? [String: Any])?["stderr"] as? String)?.contains("exit 65") == true)
        for code in [75, 1] {
            let retried = try c.wait(try c.enqueue("code", ["payload": code]))
            #expect(retried["state"] as? String == "failed" && retried["attempts"] as? Int == 3, "exit \(code)")
            #expect((retried["errors"] as? [Any])?.count == 3)
        }
    }

    @Test func aTimeoutKillsTheWholeProcessGroup() throws {
        let d = try daemon(scripts: ["slow": "sleep 300 &\necho $! > \"$(dirname \"$0\")/child.pid\"\nwait"],
                           handlerOptions: ["slow": "timeout: 3s\nmax_attempts: 1"])  // time for a loaded machine to write child.pid
        let c = try d.client()
        let job = try c.wait(try c.enqueue("slow"))
        #expect(job["state"] as? String == "failed")
        #expect(((job["error"] as? [String: Any])?["message"] as? String)?.contains("timed out") == true)
        let pid = try #require(Int32((try String(contentsOfFile: d.folder + "/child.pid", encoding: .utf8)).trimmingCharacters(in: .whitespacesAndNewlines)))
        #expect(eventually { kill(pid, 0) != 0 }, "the forked child outlived its attempt")
    }

    @Test func noChildOutlivesASuccessfulAttempt() throws {
        let d = try daemon(scripts: ["bg": "sleep 300 &\necho $! > \"$(dirname \"$0\")/bg.pid\"\necho done"])
        let c = try d.client()
        let job = try c.wait(try c.enqueue("bg"))
        #expect(job["state"] as? String == "succeeded" && job["result"] as? String == "done")
        let pid = try #require(Int32((try String(contentsOfFile: d.folder + "/bg.pid", encoding: .utf8)).trimmingCharacters(in: .whitespacesAndNewlines)))
        #expect(eventually { kill(pid, 0) != 0 })
    }

    @Test func outputIsCutAtMaxResultBytesAndLargeOutputNeverBlocks() throws {
        let d = try daemon(scripts: ["big": "yes a | tr -d '\\n' | head -c 3000000", "text": "echo 'not json'"],
                           limits: "limits:\n  max_result_bytes: 1KiB\n")
        let c = try d.client()
        let big = try c.wait(try c.enqueue("big"))
        #expect(big["state"] as? String == "succeeded" && big["result_truncated"] as? Bool == true)
        #expect((big["result"] as? String)?.count == 1024)
        let text = try c.wait(try c.enqueue("text"))
        #expect(text["result"] as? String == "not json" && text["result_truncated"] as? Bool == false)
    }

    @Test func noDescriptorOfTheDaemonLeaksIntoAHandler() throws {
        let d = try daemon(scripts: ["fds": "ls /proc/self/fd | tr '\\n' ' '"])
        let c = try d.client()
        let job = try c.wait(try c.enqueue("fds"))
        let fds = Set(((job["result"] as? String) ?? "").split(separator: " ").map(String.init))
        #expect(fds.isSubset(of: ["0", "1", "2", "3"]), "\(fds)")  // 3: ls's own listing of the folder
    }

    @Test func execRunsArgvInItsFolder() throws {
        let d = try daemon(scripts: [:])
        let c = try d.client()
        let job = try c.wait(try c.enqueue("exec", ["payload": ["argv": ["sh", "-c", "pwd; echo $GREETING >&2; exit 3"], "cwd": "/tmp", "env": ["GREETING": "hi"]], "max_attempts": 1]))
        #expect(job["state"] as? String == "failed")
        let error = try #require(job["error"] as? [String: Any])
        #expect(error["exit_code"] as? Int == 3 && (error["stderr"] as? String)?.contains("hi") == true)
        let pwd = try c.wait(try c.enqueue("exec", ["payload": ["argv": ["pwd"], "cwd": "/tmp"]]))
        #expect(pwd["result"] as? String == "/tmp")
        let bad = try c.wait(try c.enqueue("exec", ["payload": ["argv": "pwd"]]))
        #expect(bad["state"] as? String == "failed" && bad["attempts"] as? Int == 1)
    }

    @Test func cancelStopsARunningHandler() throws {
        let d = try daemon(scripts: ["long": "echo $$ > \"$(dirname \"$0\")/long.pid\"\nexec sleep 300"])
        let c = try d.client()
        let id = try c.enqueue("long")
        let pidFile = d.folder + "/long.pid"
        #expect(eventually { FileManager.default.fileExists(atPath: pidFile) && (try? c.get(id)["state"] as? String) == "running" })
        let cancelled = try c.call("cancel", ["id": id])
        #expect(cancelled["state"] as? String == "cancelled" && cancelled["attempts"] as? Int == 1)
        let pid = try #require(Int32((try String(contentsOfFile: pidFile, encoding: .utf8)).trimmingCharacters(in: .whitespacesAndNewlines)))
        #expect(eventually { kill(pid, 0) != 0 })
        #expect(eventually { (try? c.get(id)["state"] as? String) == "cancelled" })
        #expect(try c.wait(id)["state"] as? String == "cancelled")
    }
}
