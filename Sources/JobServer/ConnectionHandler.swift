import JobCore
import Logging
import JobEngine
import NIOConcurrencyHelpers
import NIOCore

/// One client connection. Requests run concurrently and are answered as
/// they finish, in any order, so a blocking `wait` holds back nothing else.
///
/// Bounded: at most `maxInFlight` requests at a time, and no reading while
/// the client does not read its answers (the channel is not writable): a
/// client that never reads stops being read, and costs the daemon no more.
final class ConnectionHandler: ChannelDuplexHandler, @unchecked Sendable {
    typealias InboundIn = Frame
    typealias OutboundIn = Never
    typealias OutboundOut = ByteBuffer

    static let maxInFlight = 64

    private let service: RPCService
    private let maxMessageBytes: Int
    private let logger: Logger
    // On the event loop only:
    private var context: ChannelHandlerContext?
    private var caller: Caller?
    /// This connection's number, for the engine (workers, their waiting calls).
    let connection = ConnectionNumbers.next()
    private var inFlight = 0
    private var readPending = false
    private var closing = false
    /// The client closed its side: close ours once every answer is out.
    private var inputClosed = false

    init(service: RPCService, maxMessageBytes: Int, logger: Logger) {
        self.service = service
        self.maxMessageBytes = maxMessageBytes
        self.logger = logger
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
    }

    func channelActive(context: ChannelHandlerContext) {
        PeerCredentials.of(context.channel).whenComplete { [self] result in
            if case .success(let c) = result { caller = Caller(connection: connection, pid: c.pid, uid: c.uid, gid: c.gid) }
        }
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        service.connectionClosed(connection)
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .tooLarge:
            // Answer, and close once the answer is out.
            closing = true
            let channel = context.channel
            write(RPCService.tooLarge(limit: maxMessageBytes), context).whenComplete { _ in channel.close(promise: nil) }
        case .line(let line):
            guard !closing else { return }
            if line.allSatisfy({ $0 == 0x20 || $0 == 0x09 || $0 == 0x0D }) { return }  // blank lines are ignored
            inFlight += 1
            let service = self.service
            let caller = self.caller
            let loop = context.eventLoop
            let handler = NIOLoopBound(self, eventLoop: loop)
            // Answered on this loop: at once for a read, else from the writer
            // thread or a task (NIO wakes a loop once for many such answers).
            service.respond(to: line, caller: caller) { response in
                if loop.inEventLoop {
                    handler.value.finished(response)
                } else {
                    loop.execute { handler.value.finished(response) }
                }
            }
        }
    }

    private func finished(_ response: JSONWriter?) {
        inFlight -= 1
        if let response, let context { write(response, context) }
        if inputClosed && inFlight == 0 { context?.close(promise: nil) }
        resumeReadingIfAllowed()
    }

    @discardableResult
    private func write(_ response: JSONWriter, _ context: ChannelHandlerContext) -> EventLoopFuture<Void> {
        var buffer = context.channel.allocator.buffer(capacity: response.bytes.count + 1)
        buffer.writeBytes(response.bytes)
        buffer.writeInteger(UInt8(ascii: "\n"))
        return context.writeAndFlush(wrapOutboundOut(buffer))
    }

    // MARK: Backpressure

    func read(context: ChannelHandlerContext) {
        if inFlight >= Self.maxInFlight || !context.channel.isWritable {
            readPending = true
        } else {
            context.read()
        }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        resumeReadingIfAllowed()
        context.fireChannelWritabilityChanged()
    }

    private func resumeReadingIfAllowed() {
        guard let context, readPending, inFlight < Self.maxInFlight, context.channel.isWritable else { return }
        readPending = false
        context.read()
    }

    // MARK: Idle and errors

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case .some(ChannelEvent.inputClosed) = event as? ChannelEvent {
            inputClosed = true
            if inFlight == 0 { context.close(promise: nil) }
            return
        }
        // Silence means no input and nothing in progress: a long `wait` is not idle.
        if event is IdleStateHandler.IdleStateEvent, inFlight == 0 {
            context.close(promise: nil)
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        logger.debug("connection error", metadata: ["error": "\(error)"])
        context.close(promise: nil)
    }
}

/// Numbers connections: unique for the life of the daemon.
enum ConnectionNumbers {
    private static let counter = NIOLockedValueBox<UInt64>(0)

    static func next() -> UInt64 {
        counter.withLockedValue { value in
            value += 1
            return value
        }
    }
}
