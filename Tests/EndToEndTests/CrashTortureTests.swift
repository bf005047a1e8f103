import Foundation
import Testing

/// Kill -9 torture: the real daemon is killed at random moments while
/// clients enqueue and workers run; at the end every acknowledged job has
/// succeeded, none is stuck, and every job that ran twice has its cut
/// attempt on record, or was a job claimed ahead whose start was not yet
/// committed at the kill (it runs again with the same attempt number, under
/// the next daemon; docs/job-lifecycle.md). CI runs the short form; `scripts/crash-torture` the
/// long one (JQ_TORTURE_CYCLES, JQ_TORTURE_JOBS, JQ_TORTURE_SEED).
@Suite(.blocking) struct CrashTortureTests {
    struct Seeded: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    static func setting(_ name: String, _ fallback: Int) -> Int {
        ProcessInfo.processInfo.environment[name].flatMap(Int.init) ?? fallback
    }

    func integrityCheck(_ database: String) throws -> String {
        let check = "import sqlite3; print(sqlite3.connect('file:\(database)?mode=ro', uri=True).execute('PRAGMA integrity_check').fetchone()[0])"
        return try runToEnd("/usr/bin/python3", ["-c", check]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    @Test func killNineCyclesLoseNothing() throws {
        let cycles = Self.setting("JQ_TORTURE_CYCLES", 5)
        let jobsPerCycle = Self.setting("JQ_TORTURE_JOBS", 200)
        let seed = UInt64(Self.setting("JQ_TORTURE_SEED", Int(Date().timeIntervalSince1970) % 100_000))
        print("crash torture: seed \(seed), \(cycles) cycles, \(jobsPerCycle) jobs per cycle")
        var random = Seeded(state: seed)

        let d = try Daemon(start: false)
        let ledger = d.folder + "/ledger"
        let script = d.folder + "/record.sh"
        try "#!/bin/sh\necho \"$JOB_ID $JOB_ATTEMPT $PPID\" >> \(ledger)\n".write(toFile: script, atomically: true, encoding: .utf8)
        chmod(script, 0o755)
        try d.writeConfig("workers: 4\nhandlers:\n  record:\n    command: [\"\(script)\"]\n    max_attempts: 1000\n    backoff: { initial: 10ms, max: 100ms, jitter: 0 }\n")

        let acknowledged = Locked<[Int]>([])
        var kills = 0
        for cycle in 0..<cycles {
            try d.start()
            let socket = d.socket
            let clients = 3
            let before = acknowledged.value.count
            let group = DispatchGroup()
            for _ in 0..<clients {
                group.enter()
                Thread {
                    defer { group.leave() }
                    guard let c = try? Client(socket) else { return }
                    for n in 0..<(jobsPerCycle / clients) {
                        // Only an answered enqueue counts as acknowledged.
                        guard let id = try? c.enqueue("record", ["payload": ["cycle": cycle, "n": n]]) else { return }
                        acknowledged.mutate { $0.append(id) }
                    }
                }.start()
            }
            if cycle < cycles - 1 {
                // Kill when a random share (25-90 %) of this cycle's jobs are acknowledged.
                let target = Int.random(in: (jobsPerCycle / 4)..<(jobsPerCycle * 9 / 10), using: &random)
                _ = eventually(timeout: 120) { acknowledged.value.count - before >= target }
                d.crash()
                kills += 1
            }
            group.wait()
            #expect(try integrityCheck(d.database) == "ok", "cycle \(cycle)")
        }

        // Drain: the last daemon keeps running until nothing is left to do.
        let c = try d.client()
        #expect(eventually(timeout: 120) {
            let queue = (try? c.call("stats")["queues"] as? [String: [String: Any]])?["default"] ?? [:]
            return ["scheduled", "queued", "running", "retrying"].allSatisfy { queue[$0] as? Int == 0 }
        })
        let ids = acknowledged.value
        var lost = 0, notSucceeded = 0
        for id in ids {
            guard let job = try? c.get(id) else { lost += 1; continue }
            if job["state"] as? String != "succeeded" { notSucceeded += 1 }
        }
        let lines = (try? String(contentsOfFile: ledger, encoding: .utf8))?.split(separator: "\n") ?? []
        // One line per run: job id, JOB_ATTEMPT, and the pid of the daemon that ran it.
        let ledgerRuns = Dictionary(grouping: lines.map { $0.split(separator: " ").map(String.init) }, by: { Int($0[0]) ?? 0 })
        let runs = ledgerRuns.mapValues(\.count)
        // Every job that ran twice, acknowledged or not (a kill between the
        // commit and the answer leaves a stored job nobody was told about),
        // must have one interrupted attempt on record per extra run, or have
        // run again with the same attempt number under a later daemon (its
        // start, claimed ahead, was not committed at the kill). The same
        // attempt twice under one daemon is never explained.
        var duplicates = 0, unexplained = 0, unrecordedStarts = 0
        for (id, count) in runs.sorted(by: { $0.key < $1.key }) where count > 1 {
            duplicates += count - 1
            let errors = (try? c.get(id))?["errors"] as? [[String: Any]] ?? []
            let interrupted = errors.filter { $0["message"] as? String == "daemon stopped during the attempt" }.count
            let entries = ledgerRuns[id] ?? []
            var rerunsAfterAKill = 0
            for (index, run) in entries.enumerated() {
                let earlier = entries[..<index].filter { $0[1] == run[1] }
                if earlier.contains(where: { $0[2] == run[2] }) { rerunsAfterAKill = -count; break }  // twice under one daemon
                if !earlier.isEmpty { rerunsAfterAKill += 1 }
            }
            unrecordedStarts += max(rerunsAfterAKill, 0)
            if count - 1 > interrupted + rerunsAfterAKill {
                unexplained += 1
                let attempts = lines.filter { $0.hasPrefix("\(id) ") }.joined(separator: ", ")
                print("crash torture: job \(id) ran \(count) times (ledger: \(attempts)); errors: \(errors)")
            }
        }
        print("crash torture: \(kills) kills, \(ids.count) acknowledged, \(lost) lost, \(notSucceeded) not succeeded, "
              + "\(duplicates) duplicate runs (\(unrecordedStarts) of them starts not yet committed, \(unexplained) unexplained)")
        #expect(lost == 0 && notSucceeded == 0 && unexplained == 0)
        #expect(ids.allSatisfy { (runs[$0] ?? 0) >= 1 }, "an acknowledged job never ran")
        #expect(try integrityCheck(d.database) == "ok")
    }
}

/// A value shared between threads of a test.
final class Locked<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: Value

    init(_ value: Value) { stored = value }

    var value: Value { lock.withLock { stored } }

    func mutate(_ body: (inout Value) -> Void) { lock.withLock { body(&stored) } }
}
