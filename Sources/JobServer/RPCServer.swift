import Foundation
import JobEngine
import Logging
import NIOCore
import NIOPosix

/// The Unix-socket listener.
public final class RPCServer: @unchecked Sendable {
    public let path: String
    private let ownsSocketFile: Bool
    private let group: MultiThreadedEventLoopGroup
    private let serverChannel: any Channel
    private let connections: ConnectionRegistry

    private init(path: String, ownsSocketFile: Bool, group: MultiThreadedEventLoopGroup, serverChannel: any Channel,
                 connections: ConnectionRegistry) {
        self.path = path
        self.ownsSocketFile = ownsSocketFile
        self.group = group
        self.serverChannel = serverChannel
        self.connections = connections
    }

    /// Open connections (`jobqueue_connections`).
    public var openConnections: Int { connections.count }

    public struct StartError: Error, CustomStringConvertible {
        public var description: String
    }

    /// The daemon's event loops: the socket's, and a spare one for the HTTP
    /// listener (OBSERVABILITY.md: HTTP never delays the socket). `start`
    /// takes them, and `close` shuts them down.
    public static func makeEventLoops() -> MultiThreadedEventLoopGroup {
        MultiThreadedEventLoopGroup(numberOfThreads: 2)
    }

    /// The event loop of `group` that the socket leaves to the HTTP listener.
    public static func spareEventLoop(of group: MultiThreadedEventLoopGroup) -> any EventLoop {
        Array(group.makeIterator())[1]
    }

    /// Binds `path` (after `SocketPath.prepare`), or takes over the
    /// listening socket systemd passed (`listeningSocket`), and starts
    /// accepting on the first loop of `group` (made by `makeEventLoops`).
    public static func start(path: String, listeningSocket: Int32? = nil, service: RPCService, engine: Engine,
                             group: MultiThreadedEventLoopGroup, logger: Logger) throws(StartError) -> RPCServer {
        let config = engine.config
        if listeningSocket == nil {
            do {
                try SocketPath.prepare(path)
            } catch {
                throw StartError(description: error.description)
            }
        }
        // Every RPC connection on the first loop, as always; the second is the HTTP listener's.
        let loops = Array(group.makeIterator())
        let connections = ConnectionRegistry(engine: engine)
        let bootstrap = ServerBootstrap(group: loops[0])
            .serverChannelOption(.backlog, value: 256)
            .childChannelOption(.writeBufferWaterMark, value: .init(low: 64 * 1024, high: 256 * 1024))
            .childChannelOption(.autoRead, value: true)
            // A client may send its requests, then close its side (`... | socat`): its answers still come.
            .childChannelOption(.allowRemoteHalfClosure, value: true)
            .childChannelInitializer { channel in
                let limits = engine.config.limits
                guard connections.admit(channel) else {
                    // At max_connections: accepted and closed at once; the others keep working.
                    return channel.close()
                }
                return channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandlers([
                        IdleStateHandler(readTimeout: .milliseconds(limits.idleTimeoutMs)),
                        ByteToMessageHandler(LineFrameDecoder(maxLength: limits.maxMessageBytes)),
                        ConnectionHandler(service: service, maxMessageBytes: limits.maxMessageBytes, logger: logger),
                    ])
                }
            }
        do {
            if let listeningSocket {
                // systemd's socket unit owns the file, its mode and its group.
                let channel = try bootstrap.withBoundSocket(listeningSocket).wait()
                return RPCServer(path: path, ownsSocketFile: false, group: group, serverChannel: channel, connections: connections)
            }
            let channel = try bootstrap.bind(unixDomainSocketPath: path, cleanupExistingSocketFile: false).wait()
            try SocketPath.applyOwnership(path, mode: config.socket.mode, group: config.socket.group)
            return RPCServer(path: path, ownsSocketFile: true, group: group, serverChannel: channel, connections: connections)
        } catch {
            try? group.syncShutdownGracefully()
            throw StartError(description: "cannot listen on \(path): \(error)")
        }
    }

    /// Stops accepting: new connections are refused; open ones keep working.
    public func stopAccepting() {
        try? serverChannel.close().wait()
        if ownsSocketFile { unlink(path) }
    }

    /// Closes every connection and stops the event loop.
    public func close() {
        connections.closeAll()
        try? group.syncShutdownGracefully()
    }
}

/// Counts open connections against `max_connections` and can close them all.
final class ConnectionRegistry: @unchecked Sendable {
    private let engine: Engine
    private let lock = NSLock()
    private var open: [ObjectIdentifier: any Channel] = [:]

    init(engine: Engine) {
        self.engine = engine
    }

    func admit(_ channel: any Channel) -> Bool {
        let limit = engine.config.limits.maxConnections
        let admitted: Bool = lock.withLock {
            guard open.count < limit else { return false }
            open[ObjectIdentifier(channel)] = channel
            return true
        }
        if admitted {
            channel.closeFuture.whenComplete { [self] _ in
                lock.withLock { _ = open.removeValue(forKey: ObjectIdentifier(channel)) }
            }
        }
        return admitted
    }

    var count: Int { lock.withLock { open.count } }

    func closeAll() {
        let channels = lock.withLock { Array(open.values) }
        for channel in channels { channel.close(promise: nil) }
    }
}
