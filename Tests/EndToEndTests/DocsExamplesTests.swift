import Foundation
import Testing

/// What the docs promise and ship: completion scripts and the socat one-liner.
@Suite struct DocsExamplesTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    @Test(arguments: ["bash", "zsh", "fish"])
    func shippedCompletionsMatchTheBinary(shell: String) throws {
        let generated = try Jobctl.run(["--generate-completion-script", shell], socket: nil)
        let shipped = try String(contentsOf: Self.root.appendingPathComponent("completions/jobctl.\(shell)"), encoding: .utf8)
        #expect(generated.status == 0 && generated.stdout == shipped, "run scripts/generate-completions")
    }

    @Test func theSocatOneLinerOfDocsProtocol() throws {
        let socat = try #require(["/usr/bin/socat", "/bin/socat"].first { FileManager.default.isExecutableFile(atPath: $0) },
                                 "socat is needed (.ci/run installs it)")
        let d = try Daemon()
        // The line of docs/protocol.md, with the socket path of this daemon.
        let output = try shell(#"echo '{"jsonrpc":"2.0","id":1,"method":"enqueue","params":{"handler":"echo","payload":"hi","wait_ms":5000}}' | \#(socat) - UNIX-CONNECT:"$JOBQUEUE_SOCKET""#,
                               environment: ["JOBQUEUE_SOCKET": d.socket, "PATH": "/usr/bin:/bin"]).stdout
        #expect(output.contains(#""state":"succeeded""#) && output.contains(#""result":"hi""#), "\(output)")
    }
}
