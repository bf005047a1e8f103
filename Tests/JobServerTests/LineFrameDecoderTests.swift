import NIOCore
import NIOEmbedded
import Testing
@testable import JobServer

/// The framing, fed byte by byte, in bursts, and past the limit.
@Suite struct LineFrameDecoderTests {
    func frames(_ chunks: [[UInt8]], max: Int = 16) throws -> [String] {
        let channel = EmbeddedChannel(handler: ByteToMessageHandler(LineFrameDecoder(maxLength: max)))
        var out: [String] = []
        for chunk in chunks {
            var buffer = channel.allocator.buffer(capacity: chunk.count)
            buffer.writeBytes(chunk)
            try channel.writeInbound(buffer)
            while let frame = try channel.readInbound(as: Frame.self) {
                switch frame {
                case .line(let bytes): out.append(String(decoding: bytes, as: UTF8.self))
                case .tooLarge: out.append("<too large>")
                }
            }
        }
        return out
    }

    @Test func splitsAtNewlinesWhateverTheChunks() throws {
        let text = Array("{\"a\":1}\n\n[2]\n{}\n".utf8)
        let expected = ["{\"a\":1}", "", "[2]", "{}"]
        #expect(try frames([text]) == expected)
        #expect(try frames(text.map { [$0] }) == expected)  // byte by byte
        #expect(try frames([Array(text[0..<5]), Array(text[5..<12]), Array(text[12...])]) == expected)
    }

    @Test func aLineAtTheLimitPassesOneByteMoreDoesNot() throws {
        #expect(try frames([Array((String(repeating: "x", count: 16) + "\n").utf8)]) == [String(repeating: "x", count: 16)])
        #expect(try frames([Array((String(repeating: "x", count: 17) + "\n").utf8)]) == ["<too large>"])
    }

    @Test func anEndlessLineIsRefusedWithoutWaitingForItsEnd() throws {
        // 20 bytes without a newline, in small pieces: refused once past 16, never buffered whole.
        let pieces = (0..<10).map { _ in Array("xx".utf8) }
        #expect(try frames(pieces) == ["<too large>"])
        // Nothing after the refusal is decoded.
        #expect(try frames(pieces + [Array("\n{}\n".utf8)]) == ["<too large>"])
    }
}
