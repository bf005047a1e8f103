import Foundation
import Testing

/// The Python package (clients/python): installed offline into a fresh
/// venv the way its README says, then its own pytest suite against the real
/// daemon binary. Debian's python3 (`/usr/bin/python3`, with python3-pytest,
/// python3-venv, python3-setuptools and python3-wheel from the README's
/// set-up line).
@Suite(.blocking) struct PythonPackageTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let python = "/usr/bin/python3"

    @Test func installsOfflineAndPassesItsOwnSuite() throws {
        let venv = "/tmp/jqv-" + UUID().uuidString.prefix(8).lowercased()
        defer { try? FileManager.default.removeItem(atPath: venv) }
        let made = try runToEnd(Self.python, ["-m", "venv", "--system-site-packages", venv])
        try #require(made.status == 0, "python3 -m venv: \(made.stderr)")
        let package = Self.root.appendingPathComponent("clients/python").path
        let installed = try runToEnd(venv + "/bin/pip", ["install", "--quiet", "--no-index", "--no-build-isolation", package])
        try #require(installed.status == 0, "pip install (offline): \(installed.stdout)\(installed.stderr)")
        // From another folder, so that the installed package is imported, not the source tree.
        let suite = try runToEnd(venv + "/bin/python", ["-m", "pytest", "-q", "-p", "no:cacheprovider", package + "/tests"],
                                 environment: ProcessInfo.processInfo.environment.merging(["JOBQUEUED": Daemon.binary]) { $1 },
                                 folder: "/tmp")
        #expect(suite.status == 0, "pytest:\n\(suite.stdout)\n\(suite.stderr)")
    }
}
