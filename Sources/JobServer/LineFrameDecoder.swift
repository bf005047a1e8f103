import NIOCore

/// One line of input, or the news that a line went past the limit.
enum Frame {
    case line([UInt8])
    /// The message is larger than `max_message_bytes`: answered with -32600,
    /// then the connection is closed. Nothing of it is executed.
    case tooLarge
}

/// Splits the byte stream at `\n`, enforcing the message limit while
/// reading: a line longer than the limit is refused as soon as that many
/// bytes arrived without a newline, never buffered whole.
struct LineFrameDecoder: ByteToMessageDecoder {
    typealias InboundOut = Frame

    let maxLength: Int
    private var scanned = 0
    private var failed = false

    init(maxLength: Int) {
        self.maxLength = maxLength
    }

    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        if failed {
            buffer.moveReaderIndex(forwardBy: buffer.readableBytes)
            return .needMoreData
        }
        let view = buffer.readableBytesView
        if let newline = view.dropFirst(scanned).firstIndex(of: UInt8(ascii: "\n")) {
            let length = newline - view.startIndex
            scanned = 0
            if length > maxLength { return tooLarge(context, &buffer) }
            let line = buffer.readBytes(length: length)!
            buffer.moveReaderIndex(forwardBy: 1)
            context.fireChannelRead(wrapInboundOut(.line(line)))
            return .continue
        }
        scanned = view.count
        if scanned > maxLength { return tooLarge(context, &buffer) }
        return .needMoreData
    }

    private mutating func tooLarge(_ context: ChannelHandlerContext, _ buffer: inout ByteBuffer) -> DecodingState {
        failed = true
        buffer.moveReaderIndex(forwardBy: buffer.readableBytes)
        context.fireChannelRead(wrapInboundOut(.tooLarge))
        return .needMoreData
    }

    mutating func decodeLast(context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool) throws -> DecodingState {
        // A last line without its newline is still a message.
        if !failed, buffer.readableBytes > 0, buffer.readableBytes <= maxLength {
            let line = buffer.readBytes(length: buffer.readableBytes)!
            context.fireChannelRead(wrapInboundOut(.line(line)))
        }
        buffer.moveReaderIndex(forwardBy: buffer.readableBytes)
        return .needMoreData
    }
}
