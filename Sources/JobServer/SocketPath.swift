import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Prepares the socket path before binding: creates a missing folder (0700),
/// refuses a path held by a live daemon, and removes a stale socket file.
public enum SocketPath {
    public enum Problem: Error, CustomStringConvertible {
        case inUse(String)
        case notASocket(String)
        case tooLong(String)
        case cannotPrepare(String, String)

        public var description: String {
            switch self {
            case .inUse(let path): "another jobqueued is running on \(path)"
            case .notASocket(let path): "\(path) exists and is not a socket; not touching it"
            case .tooLong(let path): "socket path is longer than 107 bytes: \(path)"
            case .cannotPrepare(let path, let why): "cannot prepare \(path): \(why)"
            }
        }
    }

    public static func prepare(_ path: String) throws(Problem) {
        guard path.utf8.count < 108 else { throw .tooLong(path) }
        let folder = (path as NSString).deletingLastPathComponent
        if !folder.isEmpty && !FileManager.default.fileExists(atPath: folder) {
            do {
                try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true,
                                                        attributes: [.posixPermissions: 0o700])
            } catch {
                throw .cannotPrepare(folder, "\(error.localizedDescription)")
            }
        }
        var info = stat()
        guard lstat(path, &info) == 0 else { return }  // nothing there
        guard (info.st_mode & S_IFMT) == S_IFSOCK else { throw .notASocket(path) }
        if isAnswering(path) { throw .inUse(path) }
        // Nobody listens: a stale file left by a dead daemon.
        if unlink(path) != 0 { throw .cannotPrepare(path, String(cString: strerror(errno))) }
    }

    /// Whether a process accepts connections on the socket at `path`.
    static func isAnswering(_ path: String) -> Bool {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            let bytes = Array(path.utf8.prefix(raw.count - 1))
            raw.copyBytes(from: bytes)
            raw[bytes.count] = 0
        }
        let rc = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        return rc == 0
    }

    /// `socket.mode` and `socket.group` on the socket file.
    public static func applyOwnership(_ path: String, mode: UInt16, group: String?) throws(Problem) {
        if chmod(path, mode_t(mode)) != 0 { throw .cannotPrepare(path, "chmod: \(String(cString: strerror(errno)))") }
        guard let group else { return }
        guard let entry = getgrnam(group) else { throw .cannotPrepare(path, "no group named \(group)") }
        if chown(path, uid_t.max, entry.pointee.gr_gid) != 0 {
            throw .cannotPrepare(path, "chown to group \(group): \(String(cString: strerror(errno)))")
        }
    }
}
