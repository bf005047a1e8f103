import ArgumentParser
import Foundation
import JobClient
import JobCore
import JobRPC

struct Top: JobctlCommand {
    static let configuration = CommandConfiguration(
        abstract: "A live full-screen view: queues with counts and rates, running jobs with their age.",
        discussion: "Refreshes every second; q (or Ctrl-C) quits. Fits the terminal (80x24 and up). Example: jobctl top")

    /// Renders so many frames to stdout without taking over the terminal, then ends (for tests).
    @Option(help: .hidden)
    var frames: Int?

    func perform() async throws {
        let client = try await connect()
        defer { client.close() }
        let screen: Terminal?
        if frames == nil {
            guard isatty(STDOUT_FILENO) == 1 else {
                throw CLIError.usage("jobctl top needs a terminal; for a log or a pipe use jobctl stats --watch")
            }
            screen = Terminal()
        } else {
            screen = nil
        }
        defer { screen?.restore() }
        var view = TopView()
        var drawn = 0
        while frames.map({ drawn < $0 }) ?? true {
            let stats = try await attempt { () async throws(JobClientError) in try await client.call("stats") }
            let size = screen?.size ?? (columns: 80, rows: 24)
            var params = JSONWriter()
            params.object { o in
                o.member("state") { $0.string("running") }
                o.member("limit") { $0.integer(max(size.rows, 1)) }
            }
            let running = try await attempt { () async throws(JobClientError) in try await client.call("list", params: params) }
            let lines = view.frame(stats: stats, running: running, now: Date(), columns: size.columns, rows: size.rows)
            if let screen { screen.draw(lines) } else { print(lines.joined(separator: "\n") + "\n") }
            drawn += 1
            if let screen {
                if screen.waitForQuit(seconds: 1) { return }
            } else if frames.map({ drawn < $0 }) ?? true {
                try? await Task.sleep(for: .seconds(1))
            }
        }
    }
}

/// What one frame shows, and the counts kept to tell rates.
struct TopView {
    private var lastFinished: [String: (succeeded: Int, failed: Int)] = [:]
    private var lastAt: Date?

    mutating func frame(stats: JSONValue, running: JSONValue, now: Date, columns: Int, rows: Int) -> [String] {
        let uptime = Output.age(Timestamp(millisecondsSinceEpoch: 0),
                                now: Timestamp(millisecondsSinceEpoch: stats.member("uptime_ms")?.integer ?? 0)).replacingOccurrences(of: " ago", with: "")
        let workers = stats.member("workers")
        let clock = Timestamp(millisecondsSinceEpoch: Int64(now.timeIntervalSince1970 * 1000)).rfc3339.dropFirst(11).prefix(8)
        var lines = ["jobqueued \(stats.member("version")?.string ?? "?")  up \(uptime)  "
                     + "workers \(workers?.member("busy")?.integer ?? 0)/\(workers?.member("total")?.integer ?? 0) busy  \(clock)", ""]

        let elapsed = lastAt.map { now.timeIntervalSince($0) } ?? 0
        var table = [["QUEUE", "QUEUED", "RUNNING", "WAITING", "BLOCKED", "FAILED", "DONE/S", "FAIL/S", ""]]
        var finished: [String: (succeeded: Int, failed: Int)] = [:]
        for (name, queue) in (stats.member("queues")?.members ?? []).sorted(by: { $0.key < $1.key }) {
            func n(_ state: JobState) -> Int { Int(queue.member(state.rawValue)?.integer ?? 0) }
            let now = (succeeded: n(.succeeded), failed: n(.failed))
            finished[name] = now
            func rate(_ value: Int, _ before: Int?) -> String {
                guard let before, elapsed > 0 else { return "-" }
                return String(format: "%.1f", Double(max(value - before, 0)) / elapsed)
            }
            table.append([name, String(n(.queued)), String(n(.running)), String(n(.scheduled) + n(.retrying)), String(n(.blocked)),
                          String(n(.failed)), rate(now.succeeded, lastFinished[name]?.succeeded),
                          rate(now.failed, lastFinished[name]?.failed), queue.member("paused")?.bool == true ? "paused" : ""])
        }
        lastFinished = finished
        lastAt = now
        lines += Self.columns(table)

        lines += ["", "RUNNING"]
        var jobs = [["ID", "QUEUE", "HANDLER", "AGE", "WORKER"]]
        let nowStamp = Timestamp(millisecondsSinceEpoch: Int64(now.timeIntervalSince1970 * 1000))
        for job in running.member("jobs")?.elements ?? [] {
            let started = job.member("started_at")?.string.flatMap(Timestamp.init(rfc3339:))
            jobs.append([String(job.member("id")?.integer ?? 0), job.member("queue")?.string ?? "", job.member("handler")?.string ?? "",
                         Output.age(started, now: nowStamp).replacingOccurrences(of: " ago", with: ""),
                         job.member("worker")?.string ?? "(daemon)"])
        }
        lines += jobs.count == 1 ? ["none"] : Self.columns(jobs)

        // Fit the screen: the last row is the help line; cut what does not fit.
        let body = max(rows - 1, 1)
        if lines.count > body { lines = Array(lines.prefix(body)) }
        while lines.count < body { lines.append("") }
        lines.append("q quit")
        return lines.map { String($0.prefix(max(columns, 1))) }
    }

    /// Rows as columns padded to their widest cell.
    static func columns(_ rows: [[String]]) -> [String] {
        var widths = [Int](repeating: 0, count: rows.first?.count ?? 0)
        for row in rows { for (i, cell) in row.enumerated() { widths[i] = max(widths[i], cell.count) } }
        return rows.map { row in
            row.enumerated().map { i, cell in cell.padding(toLength: widths[i], withPad: " ", startingAt: 0) }
                .joined(separator: "  ").trimmingCharacters(in: .whitespaces)
        }
    }
}

/// The terminal while `top` runs: the alternate screen, no echo, keys
/// read one at a time; all put back by `restore` (also on Ctrl-C).
final class Terminal {
    private var saved = termios()
    private let isKeyboard: Bool
    nonisolated(unsafe) private static var original: termios?

    init() {
        isKeyboard = isatty(STDIN_FILENO) == 1
        if isKeyboard {
            tcgetattr(STDIN_FILENO, &saved)
            Self.original = saved
            var raw = saved
            raw.c_lflag &= ~tcflag_t(ICANON | ECHO)
            tcsetattr(STDIN_FILENO, TCSANOW, &raw)
        }
        // Ctrl-C: put the terminal back before leaving.
        signal(SIGINT) { _ in
            Terminal.putBack()
            _exit(0)
        }
        write("\u{1B}[?1049h\u{1B}[?25l")
    }

    var size: (columns: Int, rows: Int) {
        var window = winsize()
        guard ioctl(STDOUT_FILENO, UInt(TIOCGWINSZ), &window) == 0, window.ws_col > 0, window.ws_row > 0 else { return (80, 24) }
        return (Int(window.ws_col), Int(window.ws_row))
    }

    func draw(_ lines: [String]) {
        // Home, then each line with the rest of it cleared: no flicker of a full clear.
        write("\u{1B}[H" + lines.map { $0 + "\u{1B}[K" }.joined(separator: "\r\n") + "\u{1B}[J")
    }

    /// Waits up to `seconds` for a key; true when it was q (or Q).
    func waitForQuit(seconds: Double) -> Bool {
        guard isKeyboard else {
            usleep(UInt32(seconds * 1_000_000))
            return false
        }
        let deadline = Date().addingTimeInterval(seconds)
        while true {
            let left = deadline.timeIntervalSinceNow
            if left <= 0 { return false }
            var fd = pollfd(fd: STDIN_FILENO, events: Int16(POLLIN), revents: 0)
            guard poll(&fd, 1, Int32(left * 1000)) > 0 else { continue }
            var byte: UInt8 = 0
            if read(STDIN_FILENO, &byte, 1) != 1 { return true }  // stdin closed: nothing more can ask us to stay
            if byte == UInt8(ascii: "q") || byte == UInt8(ascii: "Q") { return true }
        }
    }

    func restore() {
        Self.putBack()
    }

    private static func putBack() {
        if var original { tcsetattr(STDIN_FILENO, TCSANOW, &original) }
        let text = "\u{1B}[?25h\u{1B}[?1049l"
        _ = text.withCString { Glibc.write(STDOUT_FILENO, $0, strlen($0)) }
    }

    private func write(_ text: String) {
        FileHandle.standardOutput.write(Data(text.utf8))
    }
}
