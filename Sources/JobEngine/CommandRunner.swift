import CSpawn
import Foundation
import JobCore

/// One process to run under the command-handler contract.
public struct CommandSpec: Sendable {
    public var argv: [String]
    public var environment: [String: String]
    public var workingDirectory: String?
    public var stdin: [UInt8]
    public var timeoutMs: Int64
    public var maxResultBytes: Int
}

/// What the process did.
public struct CommandOutcome: Sendable {
    public var exit: HandlerExit
    /// stdout, cut at `maxResultBytes`.
    public var stdout: [UInt8]
    public var stdoutTruncated: Bool
    /// The last `stderrTailBytes` of stderr.
    public var stderrTail: [UInt8]
}

/// A running command: cancel stops its whole process group.
public final class CommandHandle: @unchecked Sendable {
    private let lock = NSLock()
    private var pid: pid_t = 0
    private var cancelled = false
    private var killAt: UInt64?

    /// SIGKILL follows SIGTERM after this long (DAEMON.md).
    static let killGraceNanoseconds: UInt64 = 10_000_000_000

    public init() {}

    /// SIGTERM to the process group now, SIGKILL 10 s later if it lingers.
    public func cancel() {
        lock.lock()
        defer { lock.unlock() }
        cancelled = true
        terminateLocked()
    }

    var isCancelled: Bool {
        lock.lock(); defer { lock.unlock() }
        return cancelled
    }

    fileprivate func started(_ pid: pid_t) {
        lock.lock()
        defer { lock.unlock() }
        self.pid = pid
        if cancelled { terminateLocked() }
    }

    fileprivate func terminate() {
        lock.lock(); defer { lock.unlock() }
        terminateLocked()
    }

    private func terminateLocked() {
        guard pid > 0, killAt == nil else { return }
        kill(-pid, SIGTERM)
        killAt = DispatchTime.now().uptimeNanoseconds + Self.killGraceNanoseconds
    }

    /// The time SIGKILL is due, if a SIGTERM was sent.
    fileprivate var killDeadline: UInt64? {
        lock.lock(); defer { lock.unlock() }
        return killAt
    }
}

/// Runs a command to its end on the calling thread (a blocking call: give it
/// its own thread). Pipes are drained while the process runs, so a large
/// output never blocks it; when the process ends, whatever is left of its
/// process group is killed.
public enum CommandRunner {
    public static let stderrTailBytes = 64 * 1024

    public enum Failure: Error, CustomStringConvertible {
        case cannotStart(String, errno: Int32)
        public var description: String {
            switch self {
            case .cannotStart(let path, let e): "cannot start \(path): \(String(cString: strerror(e)))"
            }
        }
    }

    public static func run(_ spec: CommandSpec, handle: CommandHandle) throws(Failure) -> CommandOutcome {
        var stdinPipe: [Int32] = [0, 0], stdoutPipe: [Int32] = [0, 0], stderrPipe: [Int32] = [0, 0]
        guard cspawn_pipe(&stdinPipe, 1) == 0, cspawn_pipe(&stdoutPipe, 0) == 0, cspawn_pipe(&stderrPipe, 0) == 0 else {
            throw .cannotStart(spec.argv[0], errno: errno)
        }
        var pid: pid_t = 0
        let rc = withCStrings(spec.argv) { argv in
            withCStrings(spec.environment.map { "\($0.key)=\($0.value)" }) { envp in
                cspawn_start(argv, envp, spec.workingDirectory, stdinPipe[0], stdoutPipe[1], stderrPipe[1], &pid)
            }
        }
        // The child's ends belong to the child now (or to nobody).
        close(stdinPipe[0]); close(stdoutPipe[1]); close(stderrPipe[1])
        guard rc == 0 else {
            close(stdinPipe[1]); close(stdoutPipe[0]); close(stderrPipe[0])
            throw .cannotStart(spec.argv[0], errno: rc)
        }
        handle.started(pid)
        let pidfd = cspawn_pidfd_open(pid)

        var session = Session(spec: spec, stdinFD: stdinPipe[1], stdoutFD: stdoutPipe[0], stderrFD: stderrPipe[0])
        let deadline = DispatchTime.now().uptimeNanoseconds + UInt64(max(spec.timeoutMs, 0)) * 1_000_000
        var timedOut = false
        var status: Int32 = 0
        var exited = false

        while !exited {
            let now = DispatchTime.now().uptimeNanoseconds
            if !timedOut && now >= deadline {
                timedOut = true
                handle.terminate()
            }
            if let killAt = handle.killDeadline, now >= killAt { kill(-pid, SIGKILL) }
            // Wake for output, for the exit (pidfd), and at least every 100 ms for deadlines.
            var waitNs = min(timedOut ? UInt64.max : deadline - now, 100_000_000)
            if let killAt = handle.killDeadline, killAt > now { waitNs = min(waitNs, killAt - now) }
            session.pump(extraFD: pidfd, timeoutMs: Int32(max(1, waitNs / 1_000_000)))
            if waitpid(pid, &status, WNOHANG) == pid { exited = true }
        }
        // The attempt is over: nothing of its process group may outlive it.
        kill(-pid, SIGKILL)
        session.drainAfterExit()
        if pidfd >= 0 { close(pidfd) }
        session.closeAll()

        let exit: HandlerExit
        if timedOut {
            exit = .timedOut
        } else if (status & 0x7f) == 0 {
            exit = .exited(code: (status >> 8) & 0xff)
        } else {
            exit = .signaled(signal: status & 0x7f)
        }
        return CommandOutcome(exit: exit, stdout: session.stdout, stdoutTruncated: session.stdoutTruncated, stderrTail: session.stderr)
    }
}

/// The daemon's ends of the three pipes.
private struct Session {
    let spec: CommandSpec
    var stdinFD: Int32
    var stdoutFD: Int32
    var stderrFD: Int32
    var stdinOffset = 0
    var stdout: [UInt8] = []
    var stdoutTruncated = false
    var stderr: [UInt8] = []
    private var readBuffer = [UInt8](repeating: 0, count: 65_536)

    init(spec: CommandSpec, stdinFD: Int32, stdoutFD: Int32, stderrFD: Int32) {
        self.spec = spec
        self.stdinFD = stdinFD
        self.stdoutFD = stdoutFD
        self.stderrFD = stderrFD
        if spec.stdin.isEmpty { closeStdin() }
    }

    mutating func closeStdin() {
        if stdinFD >= 0 { close(stdinFD); stdinFD = -1 }
    }

    /// One poll: writes what stdin takes, reads what stdout and stderr hold.
    mutating func pump(extraFD: Int32, timeoutMs: Int32) {
        var fds: [pollfd] = []
        if stdinFD >= 0 { fds.append(pollfd(fd: stdinFD, events: Int16(POLLOUT), revents: 0)) }
        if stdoutFD >= 0 { fds.append(pollfd(fd: stdoutFD, events: Int16(POLLIN), revents: 0)) }
        if stderrFD >= 0 { fds.append(pollfd(fd: stderrFD, events: Int16(POLLIN), revents: 0)) }
        if extraFD >= 0 { fds.append(pollfd(fd: extraFD, events: Int16(POLLIN), revents: 0)) }
        guard poll(&fds, nfds_t(fds.count), timeoutMs) > 0 else { return }
        for p in fds where p.revents != 0 {
            if p.fd == stdinFD { writeStdin() }
            if p.fd == stdoutFD { readStdout() }
            if p.fd == stderrFD { readStderr() }
        }
    }

    mutating func writeStdin() {
        let n = spec.stdin.withUnsafeBytes { buffer in
            write(stdinFD, buffer.baseAddress! + stdinOffset, buffer.count - stdinOffset)
        }
        if n > 0 { stdinOffset += n }
        // Done, or the reader is gone (EPIPE): the handler sees EOF either way.
        if stdinOffset >= spec.stdin.count || (n < 0 && errno != EAGAIN && errno != EINTR) { closeStdin() }
    }

    mutating func readStdout() {
        guard let count = readChunk(stdoutFD) else { close(stdoutFD); stdoutFD = -1; return }
        let room = spec.maxResultBytes - stdout.count
        if count > room { stdoutTruncated = true }
        if room > 0 { stdout.append(contentsOf: readBuffer.prefix(min(count, room))) }
    }

    mutating func readStderr() {
        guard let count = readChunk(stderrFD) else { close(stderrFD); stderrFD = -1; return }
        stderr.append(contentsOf: readBuffer.prefix(count))
        if stderr.count > 2 * CommandRunner.stderrTailBytes {
            stderr.removeFirst(stderr.count - CommandRunner.stderrTailBytes)
        }
    }

    /// Reads into `readBuffer` (one buffer for the whole attempt, so a flood
    /// of output costs no allocation per read): the byte count, 0 when
    /// nothing is ready, nil at EOF or on error.
    private mutating func readChunk(_ fd: Int32) -> Int? {
        let n = readBuffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        if n > 0 { return n }
        if n < 0 && (errno == EAGAIN || errno == EINTR) { return 0 }
        return nil
    }

    /// After the exit and the group's SIGKILL: read what is still buffered.
    mutating func drainAfterExit() {
        closeStdin()
        var rounds = 0
        while (stdoutFD >= 0 || stderrFD >= 0) && rounds < 200 {
            pump(extraFD: -1, timeoutMs: 5)
            rounds += 1
        }
        if stderr.count > CommandRunner.stderrTailBytes { stderr.removeFirst(stderr.count - CommandRunner.stderrTailBytes) }
    }

    mutating func closeAll() {
        closeStdin()
        if stdoutFD >= 0 { close(stdoutFD); stdoutFD = -1 }
        if stderrFD >= 0 { close(stderrFD); stderrFD = -1 }
    }
}

/// Calls `body` with a NULL-terminated C array of the strings.
private func withCStrings<R>(_ strings: [String], _ body: ([UnsafeMutablePointer<CChar>?]) -> R) -> R {
    let pointers = strings.map { strdup($0) } + [nil]
    defer { pointers.forEach { free($0) } }
    return body(pointers)
}
