import ArgumentParser
import Foundation
import JobClient
import JobRPC

struct Dashboard: JobctlCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print the web dashboard's URL with its token, or say the HTTP listener is off.",
        discussion: "Example: jobctl dashboard (reads token_file: run it as the daemon's user or root)")

    func perform() async throws {
        let client = try await connect()
        defer { client.close() }
        let ping = try await attempt { () async throws(JobClientError) in try await client.call("ping") }
        guard let http = ping.member("http"), let url = http.member("url")?.string else {
            throw CLIError(status: 1, message: "the HTTP listener is off (set http.listen in the daemon's config, OBSERVABILITY.md)")
        }
        if globals.json {
            print(http.rawText)
            return
        }
        guard url.hasPrefix("http") else {
            // unix: the socket's SO_PEERCRED rules decide; a proxy needs no token for reads.
            print(url)
            return
        }
        let tokenFile = http.member("token_file")?.string ?? ""
        guard let data = FileManager.default.contents(atPath: tokenFile) else {
            throw CLIError(status: 1, message: "cannot read the token in \(tokenFile) (run as the daemon's user or root); the dashboard is at \(url)")
        }
        let token = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        print("\(url)?token=\(token)")
    }
}
