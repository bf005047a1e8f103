import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Socket activation: the listening socket systemd passes as fd 3
/// (`LISTEN_PID`, `LISTEN_FDS`).
public enum ListenFDs {
    public struct Problem: Error, CustomStringConvertible {
        public var description: String
    }

    /// The first passed socket, checked to be a listening AF_UNIX stream
    /// socket; nil when none was passed to this process. The variables are
    /// removed so that no child (a handler) sees them.
    public static func take(environment: [String: String] = ProcessInfo.processInfo.environment) throws(Problem) -> Int32? {
        guard let pid = environment["LISTEN_PID"].flatMap(Int32.init), pid == getpid(),
              let count = environment["LISTEN_FDS"].flatMap(Int.init), count >= 1 else { return nil }
        for name in ["LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"] { unsetenv(name) }
        let fd: Int32 = 3  // SD_LISTEN_FDS_START
        guard option(fd, SO_TYPE) == Int32(SOCK_STREAM.rawValue) else {
            throw Problem(description: "the socket passed by systemd (fd 3) is not a stream socket")
        }
        guard option(fd, SO_ACCEPTCONN) == 1 else {
            throw Problem(description: "the socket passed by systemd (fd 3) is not listening")
        }
        var address = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let rc = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        guard rc == 0, address.ss_family == sa_family_t(AF_UNIX) else {
            throw Problem(description: "the socket passed by systemd (fd 3) is not an AF_UNIX socket")
        }
        _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
        return fd
    }

    private static func option(_ fd: Int32, _ name: Int32) -> Int32? {
        var value: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        return getsockopt(fd, SOL_SOCKET, name, &value, &length) == 0 ? value : nil
    }

    /// The path of a bound AF_UNIX socket, for the start line.
    public static func path(of fd: Int32) -> String? {
        var address = sockaddr_un()
        var length = socklen_t(MemoryLayout<sockaddr_un>.size)
        let rc = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        guard rc == 0 else { return nil }
        return withUnsafeBytes(of: &address.sun_path) { raw in
            String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
        }
    }
}
