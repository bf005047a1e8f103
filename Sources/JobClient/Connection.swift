import Foundation
import JobCore
import JobRPC
import NIOCore
import NIOPosix

/// One connection to the daemon; answers are matched to calls by id, so any
/// number of calls can be in flight at once (pipelining).
final class Connection: @unchecked Sendable {
    private let channel: any Channel
    private let lock = NSLock()
    private var pending: [Int64: CheckedContinuation<Result<JSONValue, JobClientError>, Never>] = [:]
    private var nextID: Int64 = 0
    private var closed = false

    static let group = MultiThreadedEventLoopGroup.singleton

    private init(channel: any Channel) {
        self.channel = channel
    }

    static func open(path: String) async throws(JobClientError) -> Connection {
        let box = ConnectionBox()
        do {
            let channel = try await ClientBootstrap(group: group)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandlers([
                            ByteToMessageHandler(LineDecoder()),
                            ResponseHandler(box: box),
                        ])
                    }
                }
                .connect(unixDomainSocketPath: path).get()
            let connection = Connection(channel: channel)
            box.connection = connection
            return connection
        } catch {
            throw .noDaemon(path: path, reason: Self.reason(error))
        }
    }

    private static func reason(_ error: any Error) -> String {
        if let io = error as? IOError { return String(cString: strerror(io.errnoCode)) }
        return "\(error)"
    }

    /// Sends one request and waits for its answer's `result`.
    func call(_ method: String, params: JSONWriter?) async throws(JobClientError) -> JSONValue {
        let result: Result<JSONValue, JobClientError> = await withCheckedContinuation { continuation in
            let id: Int64? = lock.withLock {
                guard !closed else { return nil }
                nextID += 1
                pending[nextID] = continuation
                return nextID
            }
            guard let id else {
                continuation.resume(returning: .failure(.connectionClosed))
                return
            }
            var w = JSONWriter(capacity: 128 + (params?.bytes.count ?? 0))
            w.object { o in
                o.member("jsonrpc") { $0.string("2.0") }
                o.member("id") { $0.integer(id) }
                o.member("method") { $0.string(method) }
                if let params { o.member("params") { $0.raw(params) } }
            }
            var buffer = channel.allocator.buffer(capacity: w.bytes.count + 1)
            buffer.writeBytes(w.bytes)
            buffer.writeInteger(UInt8(ascii: "\n"))
            channel.writeAndFlush(buffer).whenFailure { [self] _ in resolve(id, .failure(.connectionClosed)) }
        }
        return try result.get()
    }

    /// Handles one answer line.
    fileprivate func received(_ line: [UInt8]) {
        guard let response = try? JSONReader.parse(line), let id = response.member("id")?.integer else { return }
        if let error = response.member("error") {
            let code = error.member("code")?.integer.flatMap { RPCErrorCode(rawValue: Int($0)) } ?? .internalError
            let data = error.member("data")
            resolve(id, .failure(.rpc(RPCError(
                code, error.member("message")?.string ?? "error \(code.rawValue)",
                field: data?.member("field")?.string, index: data?.member("index")?.integer.map { Int($0) },
                state: data?.member("state")?.string.flatMap(JobState.init(rawValue:)),
                jobID: data?.member("id")?.integer.map { JobID($0) }))))
        } else if let result = response.member("result") {
            resolve(id, .success(result))
        } else {
            resolve(id, .failure(.invalidResponse("neither result nor error")))
        }
    }

    fileprivate func closedByPeer() {
        let waiting = lock.withLock {
            closed = true
            defer { pending = [:] }
            return pending
        }
        for continuation in waiting.values { continuation.resume(returning: .failure(.connectionClosed)) }
    }

    private func resolve(_ id: Int64, _ result: Result<JSONValue, JobClientError>) {
        let continuation = lock.withLock { pending.removeValue(forKey: id) }
        continuation?.resume(returning: result)
    }

    func close() {
        channel.close(promise: nil)
    }
}

/// Lets the pipeline reach the connection built after it.
private final class ConnectionBox: @unchecked Sendable {
    weak var connection: Connection?
}

private struct LineDecoder: ByteToMessageDecoder {
    typealias InboundOut = [UInt8]

    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let newline = buffer.readableBytesView.firstIndex(of: UInt8(ascii: "\n")) else { return .needMoreData }
        let line = buffer.readBytes(length: newline - buffer.readerIndex)!
        buffer.moveReaderIndex(forwardBy: 1)
        context.fireChannelRead(wrapInboundOut(line))
        return .continue
    }
}

private final class ResponseHandler: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = [UInt8]
    private let box: ConnectionBox

    init(box: ConnectionBox) {
        self.box = box
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        box.connection?.received(unwrapInboundIn(data))
    }

    func channelInactive(context: ChannelHandlerContext) {
        box.connection?.closedByPeer()
        context.fireChannelInactive()
    }
}
