import Foundation
import Testing

/// Storage faults against the real daemon: a full disk and a corrupt file.
@Suite(.blocking) struct FaultTests {
    func shell(_ command: String) -> Int32 {
        (try? EndToEndTests.shell(command).status) ?? -1
    }

    @Test(.enabled(if: isRoot, "needs root to mount a small tmpfs"))
    func aFullDiskFailsWritesClearlyKeepsReadsAndRecovers() throws {
        let d = try Daemon(start: false)
        let disk = d.folder + "/disk"
        try FileManager.default.createDirectory(atPath: disk, withIntermediateDirectories: true)
        guard shell("mount -t tmpfs -o size=3m tmpfs \(disk)") == 0 else {
            Issue.record("cannot mount a tmpfs here")
            return
        }
        defer { _ = shell("umount -l \(disk)") }
        let process = try d.launch(["--config", d.configPath, "--db", disk + "/jobs.db", "--socket", d.socket])
        defer { kill(process.processIdentifier, SIGKILL) }
        #expect(eventually { (try? Client(d.socket).call("ping")) != nil })
        let c = try d.client()
        try c.call("pause", ["queue": "default"])
        let payload = String(repeating: "x", count: 200_000)
        var acknowledged: [Int] = []
        var failure: [String: Any]?
        for _ in 0..<100 {
            let response = try c.request("enqueue", ["handler": "noop", "payload": payload])
            if let error = response["error"] as? [String: Any] {
                failure = error
                break
            }
            acknowledged.append((response["result"] as! [String: Any])["id"] as! Int)
        }
        let error = try #require(failure, "the disk never filled")
        #expect(error["code"] as? Int == -32603 && (error["message"] as? String)?.contains("full") == true, "\(error)")
        // Reads go on, and every acknowledged job is there.
        for id in acknowledged { #expect(try c.get(id)["id"] as? Int == id) }
        #expect(try c.call("ping")["protocol"] as? Int == 1)
        // Space comes back: writes work again without a restart.
        #expect(shell("mount -o remount,size=64m \(disk)") == 0)
        #expect(try c.errorCode("enqueue", ["handler": "noop", "payload": payload]) == nil)
        try c.call("resume", ["queue": "default"])
        for id in acknowledged { #expect(try c.wait(id)["state"] as? String == "succeeded") }
    }

    @Test func anOutsideWriteLockDelaysEnqueuesButLosesNone() throws {
        let d = try Daemon()
        let lock = try WriteLock(d.database, seconds: 3)
        let started = Date()
        let c = try d.client()
        let ids = try (0..<20).map { _ in try c.enqueue("noop") }  // each waits for the lock, none fails
        #expect(Date().timeIntervalSince(started) > 2)
        #expect(try c.call("get", ["id": 1])["id"] as? Int == 1)
        for id in ids { #expect(try c.wait(id)["state"] as? String == "succeeded") }
        _ = try lock.waitForRelease()
    }

    @Test(.enabled(if: isRoot, "needs root to run the daemon as a user who may only read the database"))
    func aDatabaseItMayNotWriteIsRefusedAtStart() throws {
        let d = try Daemon(start: false)
        #expect(try Daemon.runToEnd(["migrate", "--db", d.database]).status == 0)
        for path in [d.folder, d.database, d.configPath] { chmod(path, path == d.folder ? 0o755 : 0o644) }
        let before = try Data(contentsOf: URL(fileURLWithPath: d.database))
        // SQLite would open it read-only without a word, and every write would fail.
        let run = try runToEnd("/usr/bin/setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", Daemon.binary,
                                                    "--config", d.configPath, "--db", d.database, "--socket", d.folder + "/s.sock"])
        #expect(run.status != 0 && run.output.contains("read-only"), "\(run.output)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: d.database)) == before)
    }

    @Test func aCorruptDatabaseIsRefusedWithAClearMessage() throws {
        let d = try Daemon(start: false)
        try Data(repeating: 0x42, count: 8192).write(to: URL(fileURLWithPath: d.database))
        let run = try Daemon.runToEnd(["--config", d.configPath, "--db", d.database, "--socket", d.socket])
        #expect(run.status != 0 && run.output.contains("not a database"), "\(run.output)")
        #expect(!FileManager.default.fileExists(atPath: d.socket))
        #expect(try Data(contentsOf: URL(fileURLWithPath: d.database)) == Data(repeating: 0x42, count: 8192))  // untouched
    }
}
