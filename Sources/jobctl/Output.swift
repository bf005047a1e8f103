import Foundation
import JobCore
import JobRPC

/// Human output: aligned tables, relative ages, colored states.
enum Output {
    static func jobJSON(_ job: Job, brief: Bool = false) -> String {
        var w = JSONWriter()
        JobJSON.write(job, to: &w, brief: brief)
        return w.text
    }

    /// A result: compact JSON, but a string as its raw text (like `jq -r`).
    static func printResult(_ result: RawJSON) {
        if let value = try? JSONReader.parse(Array(result.text.utf8)), let text = value.string {
            print(text)
        } else {
            print(result.text)
        }
    }

    static func colored(_ state: JobState) -> String {
        guard globals.useColor else { return state.rawValue }
        let code = switch state {
        case .succeeded: "32"
        case .failed: "31"
        case .cancelled: "33"
        case .running: "36"
        case .retrying: "35"
        case .queued, .scheduled: "34"
        case .blocked: "90"
        }
        return "\u{1B}[\(code)m\(state.rawValue)\u{1B}[0m"
    }

    /// "5s ago", "3m ago", "2h ago", "4d ago"; "in 5m" for a future time.
    static func age(_ time: Timestamp?, now: Timestamp = Timestamp(millisecondsSinceEpoch: Int64(Date().timeIntervalSince1970 * 1000))) -> String {
        guard let time else { return "-" }
        let ms = now.milliseconds(since: time)
        let seconds = abs(ms) / 1000
        let text = switch seconds {
        case ..<60: "\(seconds)s"
        case ..<3600: "\(seconds / 60)m"
        case ..<86_400: "\(seconds / 3600)h"
        default: "\(seconds / 86_400)d"
        }
        return ms >= 0 ? "\(text) ago" : "in \(text)"
    }

    /// Prints rows as columns padded to their widest cell (ANSI codes not counted).
    static func table(_ header: [String], _ rows: [[String]]) {
        let all = [header] + rows
        var widths = [Int](repeating: 0, count: header.count)
        for row in all { for (i, cell) in row.enumerated() { widths[i] = max(widths[i], visibleWidth(cell)) } }
        for row in all {
            let cells = row.enumerated().map { i, cell in
                i == row.count - 1 ? cell : cell + String(repeating: " ", count: widths[i] - visibleWidth(cell))
            }
            print(cells.joined(separator: "  "))
        }
    }

    private static func visibleWidth(_ text: String) -> Int {
        var width = 0
        var inEscape = false
        for c in text {
            if c == "\u{1B}" { inEscape = true } else if inEscape { if c == "m" { inEscape = false } } else { width += 1 }
        }
        return width
    }

    /// `status ID`: a few lines per job.
    static func describe(_ job: Job) {
        print("job \(job.id)  \(colored(job.state))")
        print("  handler \(job.handler)  queue \(job.queue)  priority \(job.priority)  attempts \(job.attempts)/\(job.maxAttempts)")
        print("  created \(age(job.createdAt))  run at \(age(job.runAt))  started \(age(job.startedAt))  finished \(age(job.finishedAt))")
        if let result = job.result, job.state == .succeeded {
            print("  result  " + result.text + (job.resultTruncated ? "  (truncated)" : ""))
        }
        if let error = job.error {
            print("  error   " + error.message + (error.exitCode.map { " (exit \($0))" } ?? ""))
        }
        // External jobs (WORKERS.md): who holds the lease, until when, and what it reported.
        if let lease = job.lease, job.state == .running {
            print("  worker  \(lease.worker ?? "(unnamed)")  lease expires \(age(lease.expiresAt)) (\(lease.expiresAt.rfc3339))")
        }
        if let progress = job.progress {
            print("  progress " + progress.text)
        }
        // SCHEDULING.md: what it waits for, its key, the schedule that enqueued it.
        if !job.after.isEmpty { print("  after   " + job.after.map { "\($0)" }.joined(separator: " ")) }
        if let key = job.concurrencyKey { print("  key     " + key) }
        if let schedule = job.schedule { print("  schedule " + schedule) }
    }
}
