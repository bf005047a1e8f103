#if canImport(Glibc)
import Glibc
#endif
import JobEngine
import NIOCore

/// Who is on the other end of a connection, from `SO_PEERCRED`.
struct PeerCredentials: Sendable, Equatable {
    var pid: Int32
    var uid: UInt32
    var gid: UInt32

    /// Reads the credentials of a connected Unix socket.
    static func of(_ channel: any Channel) -> EventLoopFuture<PeerCredentials> {
        guard let provider = channel as? any SocketOptionProvider else {
            return channel.eventLoop.makeFailedFuture(ChannelError.operationUnsupported)
        }
        let future: EventLoopFuture<UCred> = provider.unsafeGetSocketOption(
            level: SocketOptionLevel(SOL_SOCKET), name: SocketOptionName(SO_PEERCRED))
        return future.map { PeerCredentials(pid: $0.pid, uid: $0.uid, gid: $0.gid) }
    }
}

/// `struct ucred` of <sys/socket.h> (hidden from Swift behind _GNU_SOURCE):
/// the same three 32-bit fields in the same order.
private struct UCred: Sendable {
    var pid: Int32 = 0
    var uid: UInt32 = 0
    var gid: UInt32 = 0
}

/// `allow_uids` / `allow_gids`: when either is set, other peers get 1004 for
/// every method but `ping`. The daemon's own uid and root are always allowed.
struct AccessPolicy: Sendable {
    var allowUIDs: Set<UInt32>
    var allowGIDs: Set<UInt32>
    var daemonUID: UInt32 = Self.ownUID

    /// Read once: a policy is made for every request.
    private static let ownUID = getuid()

    func allows(_ peer: Caller?, method: String) -> Bool {
        if method == "ping" || (allowUIDs.isEmpty && allowGIDs.isEmpty) { return true }
        guard let peer else { return false }
        return peer.uid == 0 || peer.uid == daemonUID || allowUIDs.contains(peer.uid) || allowGIDs.contains(peer.gid)
    }
}
