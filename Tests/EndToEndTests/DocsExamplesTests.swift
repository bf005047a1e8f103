import Foundation
import Testing

/// What the docs promise and ship: completion scripts, the socat one-liner,
/// and the README's set-up line.
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
