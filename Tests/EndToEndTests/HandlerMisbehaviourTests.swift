import Foundation
import Testing

/// Handlers that misbehave end their attempt on time, leave no process
/// behind, and do not grow the daemon.
@Suite(.blocking) struct HandlerMisbehaviourTests {
    func daemon(_ scripts: [String: (body: String, options: String)]) throws -> Daemon {
        let d = try Daemon(start: false)
        var config = "handlers:\n"
        for (name, script) in scripts {
            let path = d.folder + "/\(name).sh"
            try ("#!/bin/sh\n" + script.body + "\n").write(toFile: path, atomically: true, encoding: .utf8)
            chmod(path, 0o755)
            config += "  \(name):\n    command: [\"\(path)\"]\n    max_attempts: 1\n" + (script.options.isEmpty ? "" : "    \(script.options)\n")
        }
        try d.writeConfig(config)
        try d.start()
        return d
    }

    func pid(_ d: Daemon, _ name: String) throws -> Int32 {
        Int32(try String(contentsOfFile: d.folder + "/\(name).pid", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines))!
    }

    @Test func aHandlerThatIgnoresSIGTERMIsKilled10sLater() throws {
        let d = try daemon(["stubborn": ("trap '' TERM\necho $$ > \"$(dirname \"$0\")/stubborn.pid\"\nwhile :; do sleep 0.1; done", "timeout: 300ms")])
        let c = try d.client()
        let started = Date()
        let job = try c.wait(try c.enqueue("stubborn"), timeoutMs: 60_000)
        let took = Date().timeIntervalSince(started)
        // Never before the 10 s grace; the script never ends by itself, so
        // "failed" at all means it was killed (the bound only rules out a kill
        // far too late, with room for a loaded machine).
        #expect(job["state"] as? String == "failed" && took >= 10 && took < 40, "took \(took) s")
        #expect(kill(try pid(d, "stubborn"), 0) != 0)
    }

    @Test func signalsEarlyCloseAndAGrandchildHoldingStdout() throws {
        let d = try daemon([
            "suicide": ("kill -9 $$", ""),
            "closer": ("exec >&-\nsleep 0.2\nexit 0", ""),
            "holder": ("(echo $$ > /dev/null; sleep 300) &\necho $! > \"$(dirname \"$0\")/holder.pid\"\necho parent done", ""),
        ])
        let c = try d.client()
        let killed = try c.wait(try c.enqueue("suicide"))
        #expect(killed["state"] as? String == "failed" && (killed["error"] as? [String: Any])?["signal"] as? Int == 9)
        let closed = try c.wait(try c.enqueue("closer"))
        #expect(closed["state"] as? String == "succeeded" && closed["result"] is NSNull)
        // The grandchild holds stdout for 300 s: succeeded within the wait's
        // minute means the attempt ended with the handler, not with the pipe.
        let held = try c.wait(try c.enqueue("holder"), timeoutMs: 60_000)
        #expect(held["state"] as? String == "succeeded" && held["result"] as? String == "parent done")
        #expect(eventually { kill((try? pid(d, "holder")) ?? 1, 0) != 0 })
    }

    @Test func a100MiBOutputIsCutAndTheDaemonStaysSmall() throws {
        let d = try daemon(["flood": ("head -c 104857600 /dev/zero", "")])
        let c = try d.client()
        let job = try c.wait(try c.enqueue("flood"), timeoutMs: 60_000)
        #expect(job["state"] as? String == "succeeded" && job["result_truncated"] as? Bool == true)
        // NUL bytes take 6 bytes each once escaped: the stored text still fits max_result_bytes (1 MiB).
        #expect(((job["result"] as? String)?.utf8.count ?? .max) <= (1 << 20) / 6 + 1)
        let status = try String(contentsOfFile: "/proc/\(d.process!.processIdentifier)/status", encoding: .utf8)
        let rssKiB = Int(status.split(separator: "\n").first { $0.hasPrefix("VmHWM:") }!.split(separator: " ")[1])!
        #expect(rssKiB < 100 * 1024, "peak RSS \(rssKiB) KiB")
    }
}
