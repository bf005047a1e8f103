import Foundation
import Testing

/// What the docs promise and ship: completion scripts, the socat one-liner,
/// the workers' examples, and the README's set-up line.
@Suite(.blocking) struct DocsExamplesTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    @Test(arguments: ["bash", "zsh", "fish"])
    func shippedCompletionsMatchTheBinary(shell: String) throws {
        let generated = try Jobctl.run(["--generate-completion-script", shell], socket: nil)
        let shipped = try String(contentsOf: Self.root.appendingPathComponent("completions/jobctl.\(shell)"), encoding: .utf8)
        #expect(generated.status == 0 && generated.stdout == shipped, "run scripts/generate-completions")
    }

    @Test func theSocatOneLinerOfDocsProtocol() throws {
        _ = try #require(["/usr/bin/socat", "/bin/socat"].first { FileManager.default.isExecutableFile(atPath: $0) },
                         "socat is needed: the README's set-up line installs it")
        let docs = try String(contentsOf: Self.root.appendingPathComponent("docs/protocol.md"), encoding: .utf8)
        let line = try #require(docs.split(separator: "\n").first { $0.hasPrefix("echo '{") && $0.contains("| socat - UNIX-CONNECT:") })
        let d = try Daemon()
        // The line of docs/protocol.md as it stands, with this daemon's socket.
        let output = try shell(String(line), environment: ["JOBQUEUE_SOCKET": d.socket, "PATH": "/usr/bin:/bin"]).stdout
        #expect(output.contains(#""state":"succeeded""#) && output.contains(#""result":"hi""#), "\(output)")
    }

    /// A fenced block of a doc, by its language and a line it contains.
    static func block(_ doc: String, _ language: String, containing needle: String) throws -> String {
        let text = try String(contentsOf: root.appendingPathComponent(doc), encoding: .utf8)
        let blocks = text.components(separatedBy: "```\(language)\n").dropFirst().map { $0.components(separatedBy: "\n```")[0] }
        return try #require(blocks.first { $0.contains(needle) }, "no \(language) block with \(needle) in \(doc)")
    }

    /// Every config example of docs/scheduling.md (and the README's) is a
    /// config the daemon accepts; the handlers they name are added when the
    /// example leaves them out.
    @Test(arguments: [
        ("docs/scheduling.md", "nightly-report:"), ("docs/scheduling.md", "key_concurrency: 1"),
        ("docs/scheduling.md", "rate_limit: {count: 100"), ("README.md", "nightly-report:"),
    ])
    func theConfigExamplesOfDocsScheduling(doc: String, needle: String) throws {
        var config = try Self.block(doc, "yaml", containing: needle)
        if !config.contains("handlers:") { config += "\nhandlers:\n  report:\n    builtin: noop\n" }
        let d = try Daemon(start: false)
        try d.writeConfig(config)
        let run = try Daemon.runToEnd(["check-config", "--config", d.configPath])
        #expect(run.status == 0, "\(doc): \(run.output)")
    }

    static let resizeConfig = "handlers:\n  resize: { external: true, lease: 60s }\n"

    @Test func theShellWorkerOfDocsWorkers() throws {
        let script = try Self.block("docs/workers.md", "sh", containing: "socat")
        let d = try Daemon(config: Self.resizeConfig)
        let c = try d.client()
        let id = try c.enqueue("resize", ["payload": ["path": "/srv/a.png"]])
        let run = try shell(script, environment: ["JOBQUEUE_SOCKET": d.socket, "PATH": "/usr/bin:/bin"])
        #expect(run.status == 0, "\(run.stdout)\(run.stderr)")
        let job = try c.get(id)
        #expect(job["state"] as? String == "succeeded" && (job["result"] as? [String: Any])?["ok"] as? Bool == true, "\(job)")
        #expect((job["progress"] as? [String: Any])?["step"] as? Int == 1)
    }

    @Test func thePythonWorkerOfDocsWorkers() throws {
        let program = try Self.block("docs/workers.md", "python", containing: "worker.run()")
        let d = try Daemon(config: Self.resizeConfig)
        let c = try d.client()
        let good = try c.enqueue("resize", ["payload": ["path": "/srv/a.png"]])
        let bad = try c.enqueue("resize", ["payload": ["path": "/srv/a.gif"]])
        let worker = Process()
        worker.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        worker.arguments = ["-c", program]
        var environment = ProcessInfo.processInfo.environment
        environment["JOBQUEUE_SOCKET"] = d.socket
        environment["PYTHONPATH"] = Self.root.appendingPathComponent("clients/python").path
        worker.environment = environment
        try worker.run()
        defer { if worker.isRunning { kill(worker.processIdentifier, SIGKILL) } }
        let done = try c.wait(good)
        #expect(done["state"] as? String == "succeeded" && (done["result"] as? [String: Any])?["thumbnail"] as? String == "/srv/a.png.thumb.png")
        let failed = try c.wait(bad)
        #expect(failed["state"] as? String == "failed" && failed["attempts"] as? Int == 1, "\(failed)")
        kill(worker.processIdentifier, SIGTERM)
        worker.waitUntilExit()
        #expect(worker.terminationStatus == 0)
    }

    /// Every package the tests need is on the README's one `apt-get install`
    /// line, and CI installs exactly that list: a fresh machine set up as
    /// the README says runs `swift test` as CI does.
    @Test func theREADMEsSetUpLineIsWhatCIInstalls() throws {
        let readme = try String(contentsOf: Self.root.appendingPathComponent("README.md"), encoding: .utf8)
        let setUp = try #require(readme.split(separator: "\n").first { $0.hasPrefix("apt-get install -y ") })
        let ci = try String(contentsOf: Self.root.appendingPathComponent(".ci/run"), encoding: .utf8)
        let list = try #require(ci.split(separator: "\n").first { $0.hasPrefix("packages=(") })
        let readmePackages = Set(setUp.dropFirst("apt-get install -y ".count).split(separator: " "))
        let ciPackages = Set(list.dropFirst("packages=(".count).dropLast().split(separator: " "))
        #expect(!readmePackages.isEmpty && readmePackages == ciPackages, "README: \(readmePackages.sorted()), .ci/run: \(ciPackages.sorted())")
    }
}
