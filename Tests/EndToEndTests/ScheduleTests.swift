import Foundation
import JobCore
import Testing

/// Recurring jobs (SCHEDULING.md) against the real daemon, on `every: 1s`
/// schedules: exactly once across kill -9 and failpoints, catch-up after a
/// downtime, overlap, pause that survives a restart, SIGHUP, the methods;
/// those that do not need SQLite's failpoints also on PostgreSQL (one node,
/// its cluster's leader; three nodes are in ClusterTests).
@Suite(.blocking) struct ScheduleTests {
    /// A job a tick enqueued, read back through `list` and `get`.
    struct TickJob {
        var id: Int
        var tick: Date
        var createdAt: Date
        var startedAt: Date?
        var finishedAt: Date?
    }

    /// An RFC 3339 time of the protocol, read by JobCore's own parser
    /// (Foundation's ISO8601DateFormatter goes through ICU, whose use from
    /// parallel tests is not to be relied on).
    static func date(_ text: Any?) -> Date? {
        guard let text = text as? String, let time = Timestamp(rfc3339: text) else { return nil }
        return Date(timeIntervalSince1970: Double(time.rawValue) / 1000)
    }

    /// Every job of `schedule`, in tick order; the tick is read from its unique key.
    static func tickJobs(_ c: Client, schedule: String) throws -> [TickJob] {
        var jobs: [TickJob] = []
        var after = 0
        while true {
            let page = try c.call("list", ["after_id": after, "limit": 500])
            for entry in page["jobs"] as! [[String: Any]] {
                let id = entry["id"] as! Int
                let job = try c.get(id)
                guard job["schedule"] as? String == schedule, let key = job["unique_key"] as? String,
                      key.hasPrefix("schedule:\(schedule):"), !key.contains(":manual:") else { continue }
                let tick = try #require(date(String(key.dropFirst("schedule:\(schedule):".count))), "tick of \(key)")
                jobs.append(TickJob(id: id, tick: tick, createdAt: date(job["created_at"])!, startedAt: date(job["started_at"]),
                                    finishedAt: date(job["finished_at"])))
            }
            guard let next = page["next_after_id"] as? Int else { break }
            after = next
        }
        return jobs.sorted { $0.tick < $1.tick }
    }

    static func everySecond(_ name: String = "tick", handler: String = "noop", extra: String = "") -> String {
        "schedules:\n  \(name):\n    every: 1s\n    handler: \(handler)\n" + extra
    }

    /// Ticks fall on a 1 s grid from the schedule's anchor: no tick is
    /// missing between the first and the last, none is there twice, and
    /// none was enqueued before its time.
    static func expectExactlyOncePerTick(_ jobs: [TickJob], sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(jobs.count >= 2, sourceLocation: sourceLocation)
        for (earlier, later) in zip(jobs, jobs.dropFirst()) {
            let gap = (later.tick.timeIntervalSince(earlier.tick) * 1000).rounded()
            #expect(gap == 1000, "ticks \(earlier.tick) and \(later.tick) are \(gap) ms apart", sourceLocation: sourceLocation)
        }
        for job in jobs {
            #expect(job.createdAt >= job.tick, "job \(job.id) was enqueued before its tick", sourceLocation: sourceLocation)
        }
    }

    // MARK: - Exactly once

    /// A crash inside the tick's transaction loses nothing (the tick fires
    /// after the restart); a crash just after its commit fires nothing twice.
    @Test(arguments: ["schedule-tick", "after-commit"])
    func aTickIsEnqueuedExactlyOnceAcrossACrashAtTheTick(failpoint: String) throws {
        let d = try Daemon(config: Self.everySecond(extra: "    catch_up: all\n    overlap: allow\n"), start: false)
        var environment = ProcessInfo.processInfo.environment
        environment["JOBQUEUE_FAILPOINT"] = failpoint
        try d.start(environment: environment)
        #expect(d.waitForExit(timeout: 20) != nil, "the daemon did not stop at \(failpoint)")
        #expect(d.log.contains("failpoint \(failpoint) reached"))

        try d.start()
        let c = try d.client()
        #expect(eventually(timeout: 20) { (try? Self.tickJobs(c, schedule: "tick").count) ?? 0 >= 4 })
        d.stop()
        try d.start()
        let jobs = try Self.tickJobs(try d.client(), schedule: "tick")
        Self.expectExactlyOncePerTick(jobs)
        // The tick the crash cut short was fired once the daemon was back.
        let first = try #require(jobs.first)
        #expect(jobs.contains { $0.createdAt > first.tick.addingTimeInterval(0.5) })
    }

    /// Repeated kill -9 at arbitrary moments: never a tick twice, never
    /// one early, none lost (`catch_up: all`).
    @Test func killNineAtRandomMomentsNeverDuplicatesOrLosesATick() throws {
        let d = try Daemon(config: Self.everySecond(extra: "    catch_up: all\n    overlap: allow\n"))
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<4 {
            Thread.sleep(forTimeInterval: Double.random(in: 0.6...1.8, using: &generator))
            d.crash()
            try d.start()
        }
        Thread.sleep(forTimeInterval: 1.5)
        let jobs = try Self.tickJobs(try d.client(), schedule: "tick")
        Self.expectExactlyOncePerTick(jobs)
        #expect(jobs.count >= 4)
    }

    // MARK: - Catch-up after a downtime

    @Test(arguments: StoreKind.allCases, ["latest", "none", "all"])
    func missedTicksFollowCatchUp(engine: StoreKind, policy: String) throws {
        let d = try Daemon(engine: engine, config: Self.everySecond(extra: "    catch_up: \(policy)\n    overlap: allow\n"))
        let c = try d.client()
        #expect(eventually(timeout: 20) { (try? Self.tickJobs(c, schedule: "tick").count) ?? 0 >= 2 })
        d.stop()
        let stoppedAt = Date()
        Thread.sleep(forTimeInterval: 3.5)
        let restartAt = Date()
        try d.start()
        let readyAt = Date()
        Thread.sleep(forTimeInterval: 2.2)
        let jobs = try Self.tickJobs(try d.client(), schedule: "tick")
        let before = jobs.filter { $0.createdAt < stoppedAt }
        let lastBefore = try #require(before.last).tick
        // Every tick of the downtime: certainly missed before the restart,
        // either way while it started up, certainly live after.
        let gapTicks = stride(from: 1, to: 40, by: 1).map { lastBefore.addingTimeInterval(Double($0)) }
        let missed = gapTicks.filter { $0 < restartAt }
        let live = gapTicks.filter { $0 > readyAt && $0 < readyAt.addingTimeInterval(1.5) }
        #expect(missed.count >= 2)
        let fired = Set(jobs.map(\.tick))
        let missedFired = missed.filter { fired.contains($0) }
        switch policy {
        case "all": #expect(missedFired == missed)
        case "none": #expect(missedFired.isEmpty)
        default:
            // The most recent missed tick, and no other; when it fell during the start-up, none of these.
            #expect(missedFired.isEmpty || missedFired == [missed.last!])
            let ambiguous = gapTicks.filter { $0 >= restartAt && $0 <= readyAt }
            #expect(!missedFired.isEmpty || ambiguous.contains { fired.contains($0) })
        }
        for tick in live { #expect(fired.contains(tick), "live tick \(tick) did not fire") }
        // None twice.
        #expect(Set(jobs.map(\.tick)).count == jobs.count)
    }

    // MARK: - Overlap

    @Test(arguments: StoreKind.allCases)
    func overlapSkipCountsTheTicksWhoseJobWouldOverlap(engine: StoreKind) throws {
        let d = try Daemon(engine: engine, config: Self.everySecond(handler: "sleep", extra: "    payload: {\"ms\": 2500}\n    overlap: skip\n"))
        let c = try d.client()
        Thread.sleep(forTimeInterval: 6.5)
        let entry = try #require((try c.call("schedules")["schedules"] as! [[String: Any]]).first)
        let jobs = try Self.tickJobs(c, schedule: "tick")
        let skipped = entry["skipped"] as! Int
        #expect(skipped >= 2)
        #expect(jobs.count >= 2)
        // No two of its jobs ran at once.
        for (earlier, later) in zip(jobs, jobs.dropFirst()) {
            let finished = try #require(earlier.finishedAt)
            #expect(later.createdAt >= finished)
        }
        #expect(d.log.contains("schedule tick skipped"))
        // A tick is either a job or a skip: together they are the ticks so far.
        let ticksSoFar = Int(Date().timeIntervalSince(jobs[0].tick))
        #expect(abs(jobs.count + skipped - ticksSoFar) <= 2)
    }

    @Test func overlapAllowRunsTicksWhileThePreviousJobRuns() throws {
        let d = try Daemon(config: Self.everySecond(handler: "sleep", extra: "    payload: {\"ms\": 2500}\n    overlap: allow\n"))
        let c = try d.client()
        Thread.sleep(forTimeInterval: 4.5)
        let entry = try #require((try c.call("schedules")["schedules"] as! [[String: Any]]).first)
        #expect(entry["skipped"] as? Int == 0)
        let jobs = try Self.tickJobs(c, schedule: "tick")
        #expect(jobs.count >= 3)
        #expect(jobs[1].createdAt < (jobs[0].finishedAt ?? .distantFuture))
        // Every tick of a running daemon fires within 1 s of its time (SCHEDULING.md).
        for job in jobs { #expect(job.createdAt.timeIntervalSince(job.tick) < 1.0, "job \(job.id) came late for its tick") }
    }

    // MARK: - Methods, pause, reload

    @Test(arguments: StoreKind.allCases)
    func pauseSurvivesARestartAndResumeCatchesUp(engine: StoreKind) throws {
        let d = try Daemon(engine: engine, config: Self.everySecond(extra: "    catch_up: latest\n"))
        let c = try d.client()
        let paused = try c.call("pause_schedule", ["name": "tick"])
        #expect(paused["paused"] as? Bool == true && paused["next_run_at"] is NSNull)
        let count = try Self.tickJobs(c, schedule: "tick").count
        d.stop()
        try d.start()
        let c2 = try d.client()
        let entry = try #require((try c2.call("schedules")["schedules"] as! [[String: Any]]).first)
        #expect(entry["paused"] as? Bool == true)
        Thread.sleep(forTimeInterval: 2.5)
        #expect(try Self.tickJobs(c2, schedule: "tick").count == count)
        // Resumed: one job for the ticks missed while paused, then one per tick.
        let resumed = try c2.call("resume_schedule", ["name": "tick"])
        #expect(resumed["paused"] as? Bool == false && resumed["next_run_at"] is String)
        #expect(eventually(timeout: 10) { (try? Self.tickJobs(c2, schedule: "tick").count) ?? 0 >= count + 2 })
        let jobs = try Self.tickJobs(c2, schedule: "tick")
        #expect(Set(jobs.map(\.tick)).count == jobs.count)
    }

    @Test(arguments: StoreKind.allCases)
    func triggerEnqueuesAJobNowAndUnknownNamesAre1008(engine: StoreKind) throws {
        let d = try Daemon(engine: engine, config: "schedules:\n  nightly:\n    cron: \"15 3 * * *\"\n    timezone: Europe/Berlin\n    handler: echo\n"
            + "    payload: {\"kind\": \"daily\"}\n    queue: reports\n    priority: 5\n    tags: [report]\n")
        let c = try d.client()
        let entry = try #require((try c.call("schedules")["schedules"] as! [[String: Any]]).first)
        #expect(entry["name"] as? String == "nightly" && entry["cron"] as? String == "15 3 * * *")
        #expect(entry["timezone"] as? String == "Europe/Berlin" && entry["queue"] as? String == "reports")
        #expect(entry["last_run_at"] is NSNull && entry["last_job_id"] is NSNull)
        let next = try #require(Self.date(entry["next_run_at"]))
        // 03:15 in Berlin is 01:15 or 02:15 UTC.
        let utcHour = Calendar(identifier: .gregorian).dateComponents(in: TimeZone(identifier: "UTC")!, from: next)
        #expect([1, 2].contains(utcHour.hour) && utcHour.minute == 15 && next > Date())

        let id = try #require(try c.call("trigger_schedule", ["name": "nightly"])["id"] as? Int)
        let job = try c.wait(id)
        #expect(job["state"] as? String == "succeeded" && job["schedule"] as? String == "nightly")
        #expect(job["queue"] as? String == "reports" && job["priority"] as? Int == 5 && job["tags"] as? [String] == ["report"])
        #expect((job["result"] as? [String: Any])?["kind"] as? String == "daily")
        #expect((job["unique_key"] as? String)?.hasPrefix("schedule:nightly:manual:") == true)
        let after = try #require((try c.call("schedules")["schedules"] as! [[String: Any]]).first)
        #expect(after["last_job_id"] as? Int == id)

        for method in ["pause_schedule", "resume_schedule", "trigger_schedule"] {
            #expect(try c.errorCode(method, ["name": "nope"]) == 1008)
            #expect(try c.errorCode(method, [:]) == -32602)
        }
        let features = try c.call("ping")["features"] as? [String] ?? []
        #expect(features.contains("schedules"))
    }

    @Test(arguments: StoreKind.allCases)
    func sighupAddsChangesAndRemovesSchedules(engine: StoreKind) throws {
        let d = try Daemon(engine: engine, config: Self.everySecond())
        let c = try d.client()
        #expect(eventually(timeout: 10) { (try? Self.tickJobs(c, schedule: "tick").count) ?? 0 >= 1 })
        try d.writeConfig("schedules:\n  hourly:\n    cron: \"@hourly\"\n    timezone: UTC\n    handler: noop\n")
        d.signal(SIGHUP)
        #expect(eventually(timeout: 10) {
            let names = ((try? c.call("schedules")["schedules"]) as? [[String: Any]])?.compactMap { $0["name"] as? String }
            return names == ["hourly"]
        })
        let kept = try Self.tickJobs(c, schedule: "tick")
        #expect(!kept.isEmpty, "a removed schedule's jobs stay")
        Thread.sleep(forTimeInterval: 1.5)
        #expect(try Self.tickJobs(c, schedule: "tick").count <= kept.count + 1)
        let entry = try #require((try c.call("schedules")["schedules"] as! [[String: Any]]).first)
        let next = try #require(Self.date(entry["next_run_at"]))
        #expect(Int(next.timeIntervalSince1970) % 3600 == 0)
    }

    @Test(arguments: [
        ("cron: \"61 * * * *\"", "minute"), ("cron: \"* * *\"", "5 fields"), ("cron: \"0 0 30 2 *\"", "never matches"),
        ("cron: \"@daily\"\n    timezone: Mars/Olympus", "unknown time zone"), ("every: 500ms", "at least 1s"),
        ("cron: \"@daily\"\n    every: 1h", "not both"), ("every: 1m\n    catch_up: sometimes", "latest, none or all"),
        ("every: 1m\n    overlap: maybe", "skip or allow"), ("every: 1m\n    timezone: UTC", "cron schedules only"),
    ])
    func badSchedulesAreConfigErrorsWithTheirLine(lines: String, complaint: String) throws {
        let d = try Daemon(start: false)
        try d.writeConfig("schedules:\n  s:\n    \(lines)\n    handler: noop\n")
        let run = try Daemon.runToEnd(["check-config", "--config", d.configPath])
        #expect(run.status == 78)
        #expect(run.output.contains(complaint), "\(run.output)")
        #expect(run.output.contains("line "))
    }

    @Test func aScheduleMustNameAHandlerThatExists() throws {
        let d = try Daemon(start: false)
        try d.writeConfig("schedules:\n  s:\n    every: 1m\n    handler: missing\n")
        let run = try Daemon.runToEnd(["check-config", "--config", d.configPath])
        #expect(run.status == 78 && run.output.contains("unknown handler \"missing\""))
    }

    @Test func jobctlListsPausesResumesAndRunsSchedules() throws {
        let d = try Daemon(config: "schedules:\n  nightly-report:\n    cron: \"15 3 * * *\"\n    timezone: Europe/Berlin\n    handler: noop\n")
        let table = try Jobctl.run(["schedules"], socket: d.socket)
        #expect(table.status == 0)
        for column in ["NAME", "SCHEDULE", "ZONE", "NEXT RUN", "LAST RUN", "LAST JOB", "PAUSED"] { #expect(table.stdout.contains(column)) }
        #expect(table.stdout.contains("nightly-report") && table.stdout.contains("cron 15 3 * * *") && table.stdout.contains("Europe/Berlin"))

        #expect(try Jobctl.run(["schedule", "pause", "nightly-report"], socket: d.socket).stdout == "schedule nightly-report paused\n")
        let json = try Jobctl.run(["schedules", "--json"], socket: d.socket)
        #expect(json.stdout.contains("\"paused\":true"))
        #expect(try Jobctl.run(["schedule", "resume", "nightly-report"], socket: d.socket).stdout.hasPrefix("schedule nightly-report resumed"))

        let run = try Jobctl.run(["schedule", "run", "nightly-report"], socket: d.socket)
        let id = try #require(Int(run.stdout.trimmingCharacters(in: .whitespacesAndNewlines)))
        #expect(try d.client().wait(id)["schedule"] as? String == "nightly-report")

        let unknown = try Jobctl.run(["schedule", "run", "nope"], socket: d.socket)
        #expect(unknown.status == 1 && unknown.stderr.contains("unknown schedule \"nope\""))
    }
}
