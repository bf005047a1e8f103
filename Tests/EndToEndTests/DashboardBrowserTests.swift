import Foundation
import Testing

/// The dashboard in a real headless Chromium (Debian's chromium,
/// chromium-driver and python3-selenium, installed by .ci/run): the
/// overview's counts against `stats`, the failed jobs, Retry, and the job
/// seen succeeding by the page's own polling; no request to another host.
/// The steps are in Tests/Browser/dashboard_test.py.
@Suite(.blocking) struct DashboardBrowserTests {
    static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Browser/dashboard_test.py").path

    @Test func theOverviewRetryAndLiveUpdatesInChromium() throws {
        for tool in ["/usr/bin/chromium", "/usr/bin/chromedriver", "/usr/lib/python3/dist-packages/selenium"] {
            #expect(FileManager.default.fileExists(atPath: tool), "\(tool) is missing: apt-get install chromium chromium-driver python3-selenium (.ci/run does)")
        }
        let d = try Daemon(start: false)
        let flag = d.folder + "/ok"
        try d.writeConfig(HTTPTests.listen + """
            queues:
              images: {concurrency: 2}
            handlers:
              flip:
                command: ["sh", "-c", "test -f \(flag)"]
                max_attempts: 1
                queue: images

            """)
        try d.start()
        let c = try d.client()
        let flip = try c.enqueue("flip")
        #expect(try c.wait(flip)["state"] as? String == "failed")
        for n in 0..<3 { _ = try c.wait(try c.enqueue("echo", ["payload": ["n": n]])) }
        _ = try c.call("cancel", ["id": try c.enqueue("noop", ["run_at": "2099-01-01T00:00:00Z", "queue": "images"])])
        _ = FileManager.default.createFile(atPath: flag, contents: Data())  // the retry will succeed

        let port = try d.httpPort()
        let shots = d.folder + "/screenshots"
        try FileManager.default.createDirectory(atPath: shots, withIntermediateDirectories: true)
        var environment = ProcessInfo.processInfo.environment
        environment["DASHBOARD_URL"] = "http://127.0.0.1:\(port)/?token=\(d.httpToken)"
        environment["DASHBOARD_BASE"] = "http://127.0.0.1:\(port)"
        environment["DASHBOARD_TOKEN"] = d.httpToken
        environment["SCREENSHOT_DIR"] = shots
        environment["FAILED_JOB_ID"] = String(flip)
        environment["HOME"] = d.folder  // chromium's profile stays in the test's folder
        let run = try runToEnd("/usr/bin/python3", [Self.script], environment: environment)
        #expect(run.status == 0, "dashboard_test.py:\n\(run.output)\nscreenshots in \(shots)")
        #expect(try c.get(flip)["state"] as? String == "succeeded")
        for name in ["overview.png", "jobs-failed.png", "job.png", "overview-360.png"] {
            #expect(FileManager.default.fileExists(atPath: shots + "/" + name), "no \(name)")
        }
    }
}
