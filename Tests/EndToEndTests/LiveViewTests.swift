import Foundation
import Testing

/// `jobctl top`, `jobctl stats --watch` and `jobctl dashboard` (OBSERVABILITY.md, jobctl).
@Suite(.blocking) struct LiveViewTests {
    @Test func dashboardPrintsTheURLWithTheTokenOrSaysTheListenerIsOff() throws {
        let d = try Daemon(config: HTTPTests.listen)
        let run = try Jobctl.run(["dashboard"], socket: d.socket)
        #expect(run.status == 0)
        #expect(run.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "http://127.0.0.1:\(try d.httpPort())/?token=\(d.httpToken)")
        // The URL it prints works: it sets the cookie.
        let url = run.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let path = String(url[url.range(of: "/?token=")!.lowerBound...])
        #expect(try HTTPProbe.request(.tcp(port: try d.httpPort()), "GET", path).status == 303)

        let off = try Daemon()
        let refused = try Jobctl.run(["dashboard"], socket: off.socket)
        #expect(refused.status == 1 && refused.stderr.contains("HTTP listener is off"), "\(refused.stderr)")
    }

    @Test func statsWatchRedrawsEverySecond() throws {
        let d = try Daemon()
        _ = try d.client().enqueue("noop")
        let run = try Jobctl.run(["stats", "--watch", "--times", "2"], socket: d.socket)
        #expect(run.status == 0)
        #expect(run.stdout.components(separatedBy: "\n-- ").count + (run.stdout.hasPrefix("-- ") ? 0 : 1) >= 2, "\(run.stdout)")
        #expect(run.stdout.components(separatedBy: "workers: ").count - 1 == 2)
    }

    @Test func topShowsQueuesRatesAndRunningJobs() throws {
        let d = try Daemon(config: "queues:\n  images: {concurrency: 2}\n")
        let c = try d.client()
        let running = try c.enqueue("sleep", ["payload": ["ms": 20_000], "queue": "images"])
        #expect(eventually { (try? c.get(running)["state"] as? String) == "running" })
        let run = try Jobctl.run(["top", "--frames", "2"], socket: d.socket)
        #expect(run.status == 0, "\(run.stderr)")
        let frames = run.stdout.components(separatedBy: "q quit")
        #expect(frames.count == 3)
        let last = frames[1]
        #expect(last.contains("images") && last.contains("RUNNING") && last.contains("\(running)"))
        #expect(last.split(separator: "\n").allSatisfy { $0.count <= 80 })
        // The second frame has rates (the first has none to compare with).
        #expect(last.contains("0.0"))
        _ = try c.call("cancel", ["id": running])
    }

    /// In a real pseudo-terminal of 80x24: full screen, then q quits at once
    /// and the terminal is given back.
    @Test func topRunsInA80x24TerminalAndQQuits() throws {
        let d = try Daemon()
        let script = """
            import os, pty, sys, time, select, struct, fcntl, termios
            pid, fd = pty.fork()
            if pid == 0:
                os.execv(sys.argv[1], [sys.argv[1], "top"])
            fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
            out = b""
            # Until the first frame is drawn (raw mode is on by then), at most 30 s on a busy machine.
            deadline = time.time() + 30
            while time.time() < deadline and b"q quit" not in out:
                r, _, _ = select.select([fd], [], [], 0.1)
                if r:
                    try: out += os.read(fd, 65536)
                    except OSError: break
            os.write(fd, b"q")
            start = time.time()
            _, status = os.waitpid(pid, 0)
            took = time.time() - start
            try:
                while True:
                    r, _, _ = select.select([fd], [], [], 0.2)
                    if not r: break
                    out += os.read(fd, 65536)
            except OSError: pass
            text = out.decode("utf-8", "replace")
            print("STATUS", os.waitstatus_to_exitcode(status), "TOOK", round(took, 2))
            print("ALT", "\\x1b[?1049h" in text, "BACK", "\\x1b[?1049l" in text, "QUEUE", "QUEUE" in text, "HELP", "q quit" in text)
            """
        let run = try runToEnd("/usr/bin/python3", ["-c", script, Jobctl.binary],
                               environment: ProcessInfo.processInfo.environment.merging(["JOBQUEUE_SOCKET": d.socket]) { $1 })
        #expect(run.stdout.contains("STATUS 0"), "\(run.stdout) \(run.stderr)")
        #expect(run.stdout.contains("ALT True BACK True QUEUE True HELP True"), "\(run.stdout)")
        let took = Double(run.stdout.components(separatedBy: "TOOK ").last?.split(separator: "\n").first ?? "9") ?? 9
        #expect(took < 10)  // q is read at once; the bound only catches "never"
    }
}
