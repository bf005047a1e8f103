#if canImport(Glibc)
import Glibc
#endif
import JobEngine
import NIOCore

/// Who calls through the HTTP API, for the same access rules as the socket.
public enum HTTPCaller {
    /// The peer of a Unix-socket HTTP connection (`SO_PEERCRED`), nil when
    /// it cannot be read (then `allow_uids` refuses it, as on the RPC socket).
    public static func peer(of channel: any Channel) async -> Caller? {
        guard let credentials = try? await PeerCredentials.of(channel).get() else { return nil }
        return Caller(connection: ConnectionNumbers.next(), pid: credentials.pid, uid: credentials.uid, gid: credentials.gid)
    }

    /// A TCP caller who showed the token: it has the daemon's own rights
    /// (the token is readable only by the daemon's user and root).
    public static func tokenHolder() -> Caller {
        Caller(connection: ConnectionNumbers.next(), pid: getpid(), uid: getuid(), gid: getgid())
    }
}
