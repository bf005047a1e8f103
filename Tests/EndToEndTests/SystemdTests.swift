import Foundation
import Testing

/// systemd integration with the real binary: units, sd_notify, watchdog,
/// socket activation, journald prefixes, install layout. systemd is
/// installed but is not PID 1 here: the units are checked with
/// systemd-analyze, the protocols by playing systemd's part.
@Suite(.blocking) struct SystemdTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

    /// The units with ExecStart pointed at the built daemon.
    func stagedUnits(_ folder: String) throws {
        for (source, target) in [("systemd/jobqueued.service", "jobqueued.service"), ("systemd/jobqueued.socket", "jobqueued.socket"),
                                 ("systemd/user/jobqueued.service", "user/jobqueued.service"), ("systemd/user/jobqueued.socket", "user/jobqueued.socket")] {
            let text = try String(contentsOfFile: Self.root + "/" + source, encoding: .utf8)
                .replacingOccurrences(of: "/usr/local/bin/jobqueued", with: Daemon.binary)
            try FileManager.default.createDirectory(atPath: folder + "/user", withIntermediateDirectories: true)
            try text.write(toFile: folder + "/" + target, atomically: true, encoding: .utf8)
        }
    }

    /// systemd-analyze run by a user other than root creates /run/systemd if
    /// it is missing, and cannot: on a machine (a container) where systemd
    /// never ran, only root can verify units ("Failed to create directory
    /// '/run/systemd/': Permission denied", seen on a fresh debootstrap).
    static let canVerifyUnits = isRoot || FileManager.default.fileExists(atPath: "/run/systemd")

    @Test(.enabled(if: canVerifyUnits, "systemd-analyze needs root, or a /run/systemd that a running systemd made"))
    func theUnitsVerifyAndTheServiceScoresAtMost2() throws {
        let d = try Daemon(start: false)
        try stagedUnits(d.folder)
        let system = try shell("cd \(d.folder) && systemd-analyze verify ./jobqueued.service ./jobqueued.socket")
        #expect(system.status == 0, "\(system.output)")
        try FileManager.default.createDirectory(atPath: d.folder + "/xdg", withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let user = try shell("cd \(d.folder)/user && XDG_RUNTIME_DIR=\(d.folder)/xdg systemd-analyze --user verify ./jobqueued.service ./jobqueued.socket")
        #expect(user.status == 0, "\(user.output)")
        let security = try shell("cd \(d.folder) && systemd-analyze security --offline=yes ./jobqueued.service")
        let line = try #require(security.output.split(separator: "\n").first { $0.contains("Overall exposure level") })
        print("systemd-analyze security: \(line)")
        let score = try #require(Double(line.split(separator: ":").last!.split(separator: " ").first!))
        #expect(score <= 2.0, "\(line)")
    }

    /// A datagram socket playing systemd's notify socket. Each message comes
    /// with the time the kernel queued it (SO_TIMESTAMP), that is when the
    /// daemon sent it, however late this test's thread reads it.
    final class NotifySocket {
        let fd: Int32
        let path: String

        init(_ path: String) {
            self.path = path
            fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
            _ = withUnixAddress(path) { bind(fd, $0, $1) }
            var timeout = timeval(tv_sec: 0, tv_usec: 50_000)
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
            var on: Int32 = 1
            setsockopt(fd, SOL_SOCKET, SO_TIMESTAMP, &on, socklen_t(MemoryLayout<Int32>.size))
        }

        deinit { close(fd) }

        /// The next message within `timeout` seconds, with when it was sent
        /// (wall clock, seconds since 1970).
        func next(timeout: TimeInterval = 30) -> (text: String, at: Double)? {
            let deadline = Date().addingTimeInterval(timeout)
            var buffer = [UInt8](repeating: 0, count: 4096)
            // cmsghdr (len, level, type) then a timeval, 8-byte aligned.
            var control = [UInt8](repeating: 0, count: 64)
            while Date() < deadline {
                let received = buffer.withUnsafeMutableBytes { data in
                    control.withUnsafeMutableBytes { control in
                        var vector = iovec(iov_base: data.baseAddress, iov_len: data.count)
                        return withUnsafeMutablePointer(to: &vector) { vector in
                            var message = msghdr(msg_name: nil, msg_namelen: 0, msg_iov: vector, msg_iovlen: 1,
                                                 msg_control: control.baseAddress, msg_controllen: control.count, msg_flags: 0)
                            return recvmsg(fd, &message, 0)
                        }
                    }
                }
                guard received > 0 else { continue }
                let header = control.withUnsafeBytes { $0.loadUnaligned(as: cmsghdr.self) }
                guard header.cmsg_level == SOL_SOCKET, header.cmsg_type == SO_TIMESTAMP else { continue }
                let sent = control.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: MemoryLayout<cmsghdr>.size, as: timeval.self) }
                return (String(decoding: buffer[..<received], as: UTF8.self), Double(sent.tv_sec) + Double(sent.tv_usec) / 1e6)
            }
            return nil
        }
    }

    @Test func readyWatchdogReloadingAndStopping() throws {
        let d = try Daemon(start: false)
        let notify = NotifySocket(d.folder + "/notify.sock")
        var environment = ProcessInfo.processInfo.environment
        environment["NOTIFY_SOCKET"] = notify.path
        environment["WATCHDOG_USEC"] = "1000000"
        let process = try d.launch(["--config", d.configPath, "--db", d.database, "--socket", d.socket], environment: environment)
        defer { kill(process.processIdentifier, SIGKILL) }

        let ready = try #require(notify.next())
        #expect(ready.text.contains("READY=1") && ready.text.contains("STATUS="), "\(ready.text)")
        #expect(try Client(d.socket).call("ping")["protocol"] as? Int == 1)  // answering by the time READY=1 is sent

        // Every half of WATCHDOG_USEC: each gap below the full second
        // systemd allows, and none so short that the daemon spams (a gap is
        // the sleep after one round trip plus the next round trip, so a slow
        // round trip shortens the following gap: the floor is loose).
        var pings: [Double] = []
        while pings.count < 4, let message = notify.next() {
            if message.text == "WATCHDOG=1" { pings.append(message.at) }
        }
        #expect(pings.count == 4)
        let gaps = zip(pings.dropFirst(), pings).map { $0 - $1 }
        #expect(gaps.allSatisfy { $0 > 0.1 && $0 < 1.0 }, "WATCHDOG=1 every ~500 ms, got \(gaps)")

        kill(process.processIdentifier, SIGHUP)
        var sawReloading = false, sawReadyAfter = false
        while !sawReadyAfter, let message = notify.next() {
            if message.text.hasPrefix("RELOADING=1") && message.text.contains("MONOTONIC_USEC=") { sawReloading = true }
            if sawReloading && message.text.hasPrefix("READY=1") { sawReadyAfter = true }
        }
        #expect(sawReloading && sawReadyAfter)

        kill(process.processIdentifier, SIGTERM)
        var sawStopping = false
        while !sawStopping, let message = notify.next() { sawStopping = message.text == "STOPPING=1" }
        #expect(sawStopping)
        #expect(eventually { !process.isRunning } && process.terminationStatus == 0)
    }

    @Test func aBlockedWriterStopsTheWatchdogPings() throws {
        let d = try Daemon(start: false)
        let notify = NotifySocket(d.folder + "/notify.sock")
        var environment = ProcessInfo.processInfo.environment
        environment["NOTIFY_SOCKET"] = notify.path
        environment["WATCHDOG_USEC"] = "200000"
        let process = try d.launch(["--config", d.configPath, "--db", d.database, "--socket", d.socket], environment: environment)
        defer { kill(process.processIdentifier, SIGKILL) }
        #expect(notify.next()?.text.contains("READY=1") == true)
        // Another process holds the database's write lock for 3 s: the writer
        // cannot commit. A round trip that ended just before may still ping
        // (give it 1 s); none may come after that until the lock is let go.
        let lock = try WriteLock(d.database, seconds: 3)
        var pings: [Double] = []
        while lock.process.isRunning {
            if let message = notify.next(timeout: 0.2), message.text == "WATCHDOG=1" { pings.append(message.at) }
        }
        let releasedAt = try lock.waitForRelease()
        let whileLocked = pings.filter { $0 > lock.lockedAt + 1 && $0 < releasedAt }
        #expect(whileLocked.isEmpty, "pings while the writer was blocked, seconds after the lock: \(whileLocked.map { $0 - lock.lockedAt })")
        var resumed = pings.contains { $0 > releasedAt }
        while !resumed, let message = notify.next() { resumed = message.text == "WATCHDOG=1" }
        #expect(resumed)
    }

    @Test func socketActivation() throws {
        let d = try Daemon(start: false)
        let socket = d.folder + "/activated.sock"
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/systemd-socket-activate")
        process.arguments = ["-l", socket, Daemon.binary, "--config", d.configPath, "--db", d.database, "--socket", d.folder + "/unused.sock"]
        let log = FileHandle(forWritingAtPath: d.logPath) ?? { _ = FileManager.default.createFile(atPath: d.logPath, contents: nil); return FileHandle(forWritingAtPath: d.logPath)! }()
        process.standardError = log
        process.standardOutput = log
        try process.run()
        defer { kill(process.processIdentifier, SIGKILL) }
        // The first connection starts the daemon, which takes over the listening socket.
        #expect(eventually { (try? Client(socket).call("ping")["protocol"] as? Int) == 1 }, "\(d.log)")
        #expect(!FileManager.default.fileExists(atPath: d.folder + "/unused.sock"))
        #expect(eventually { d.log.contains("socket=\(socket)") }, "\(d.log)")  // logged after the socket answers
        let c = try Client(socket)
        let id = try c.enqueue("echo", ["payload": 7])
        #expect(try c.wait(id)["result"] as? Int == 7)
    }

    @Test func journaldPrefixesWhenStderrIsTheJournal() throws {
        let d = try Daemon(start: false)
        _ = FileManager.default.createFile(atPath: d.logPath, contents: nil)
        var info = stat()
        stat(d.logPath, &info)
        var environment = ProcessInfo.processInfo.environment
        environment["JOURNAL_STREAM"] = "\(info.st_dev):\(info.st_ino)"
        try d.start(environment: environment)
        let c = try d.client()
        _ = try c.wait(try c.enqueue("noop"))  // debug lines
        _ = try c.wait(try c.enqueue("fail", ["max_attempts": 1]))  // a warning
        d.stop()
        let lines = d.log.split(separator: "\n")
        #expect(!lines.isEmpty && lines.allSatisfy { $0.hasPrefix("<") && $0.dropFirst(2).hasPrefix(">") }, "\(d.log)")
        #expect(lines.contains { $0.hasPrefix("<5>") && $0.contains("jobqueued started") })
        #expect(lines.contains { $0.hasPrefix("<7>") && $0.contains(" debug ") })
        #expect(lines.contains { $0.hasPrefix("<4>") && $0.contains(" warning ") })

        let plain = try Daemon()  // JOURNAL_STREAM not set: no prefixes
        plain.stop()
        #expect(plain.log.split(separator: "\n").allSatisfy { !$0.hasPrefix("<") })
    }

    @Test(.enabled(if: isRoot, "needs root to run the daemon as another user"))
    func runsAsAnUnprivilegedUserWithTheUnitsDirectories() throws {
        let d = try Daemon(start: false)
        let state = d.folder + "/state", runtime = d.folder + "/runtime"
        for folder in [state, runtime] {
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            chown(folder, 65534, 65534)
            chmod(folder, 0o750)
        }
        chmod(d.folder, 0o755)
        chmod(d.configPath, 0o644)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/setpriv")
        process.arguments = ["--reuid=65534", "--regid=65534", "--clear-groups", Daemon.binary, "--config", d.configPath]
        process.environment = ["STATE_DIRECTORY": state, "RUNTIME_DIRECTORY": runtime, "PATH": "/usr/bin:/bin"]
        let pipe = Pipe()
        process.standardError = pipe
        try process.run()
        defer { kill(process.processIdentifier, SIGKILL) }
        let socket = runtime + "/jobqueued.sock"
        #expect(eventually { (try? Client(socket).call("ping")["protocol"] as? Int) == 1 })
        let c = try Client(socket)
        #expect(try c.wait(try c.enqueue("echo", ["payload": "ok"]))["result"] as? String == "ok")
        #expect(FileManager.default.fileExists(atPath: state + "/jobs.db"))
        var info = stat()
        stat(state + "/jobs.db", &info)
        #expect(info.st_uid == 65534)
    }

    @Test func makeInstallLaysOutEveryFile() throws {
        let d = try Daemon(start: false)
        let stage = d.folder + "/stage"
        let buildDir = (Daemon.binary as NSString).deletingLastPathComponent
        let install = try shell("cd \(Self.root) && make -s install-files DESTDIR=\(stage) PREFIX=/usr BUILD_DIR=\(buildDir)")
        #expect(install.status == 0, "\(install.output)")
        for file in ["usr/bin/jobqueued", "usr/bin/jobctl", "usr/lib/systemd/system/jobqueued.service", "usr/lib/systemd/system/jobqueued.socket",
                     "usr/lib/systemd/user/jobqueued.service", "usr/lib/systemd/user/jobqueued.socket", "usr/lib/sysusers.d/jobqueue.conf",
                     "etc/jobqueue/jobqueued.yaml", "usr/share/bash-completion/completions/jobctl", "usr/share/zsh/vendor-completions/_jobctl",
                     "usr/share/fish/vendor_completions.d/jobctl.fish", "usr/share/doc/jobqueue/operations.md",
                     "usr/share/doc/jobqueue/http-loopback.conf", "usr/share/doc/jobqueue/grafana-dashboard.json"] {
            #expect(FileManager.default.fileExists(atPath: stage + "/" + file), "missing \(file)")
        }
        let unit = try String(contentsOfFile: stage + "/usr/lib/systemd/system/jobqueued.service", encoding: .utf8)
        #expect(unit.contains("ExecStart=/usr/bin/jobqueued --config /etc/jobqueue/jobqueued.yaml"))
        // The shipped config is all comments: the daemon accepts it as the defaults.
        #expect(try Daemon.runToEnd(["check-config", "--config", stage + "/etc/jobqueue/jobqueued.yaml"]).status == 0)
        let uninstall = try shell("cd \(Self.root) && make -s uninstall DESTDIR=\(stage) PREFIX=/usr")
        #expect(uninstall.status == 0)
        #expect(!FileManager.default.fileExists(atPath: stage + "/usr/bin/jobqueued"))
        #expect(FileManager.default.fileExists(atPath: stage + "/etc/jobqueue/jobqueued.yaml"))  // the operator's file stays
    }
}
