import Foundation
import Testing
@testable import JobCore
@testable import JobRPC

/// A seeded fuzzer of the decoding layer: mutations of valid requests and
/// random bytes must each give a request or an error, never a crash or a hang.
@Suite struct FuzzTests {
    static let corpus = [
        #"{"jsonrpc":"2.0","id":1,"method":"enqueue","params":{"handler":"noop","payload":{"a":[1,2,{"b":"\u00e9"}]},"tags":["x"]}}"#,
        #"{"jsonrpc":"2.0","id":"s","method":"enqueue_batch","params":{"jobs":[{"handler":"a"},{"handler":"b","delay_ms":5}]}}"#,
        #"[{"jsonrpc":"2.0","id":1,"method":"ping"},{"jsonrpc":"2.0","method":"get","params":{"id":3}}]"#,
        #"{"jsonrpc":"2.0","id":2,"method":"list","params":{"state":"failed","limit":10,"after_id":0}}"#,
        #"{"jsonrpc":"2.0","id":3,"method":"enqueue","params":{"handler":"h","run_at":"2026-11-29T10:15:30.123Z","wait_ms":10}}"#,
    ]

    struct Generator: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return state ^ (state >> 29)
        }
    }

    func mutate(_ input: [UInt8], _ random: inout Generator) -> [UInt8] {
        var bytes = input
        let interesting: [UInt8] = Array("{}[]\",:\\0123456789-.eEtrufalsn \u{7f}".utf8) + [0x00, 0x80, 0xC3, 0xED, 0xF4, 0xFF]
        for _ in 0..<Int.random(in: 1...8, using: &random) {
            guard !bytes.isEmpty else { break }
            let i = Int.random(in: 0..<bytes.count, using: &random)
            switch Int.random(in: 0..<5, using: &random) {
            case 0: bytes[i] = interesting.randomElement(using: &random)!
            case 1: bytes.remove(at: i)
            case 2: bytes.insert(interesting.randomElement(using: &random)!, at: i)
            case 3: bytes.insert(contentsOf: bytes[i..<min(bytes.count, i + 16)], at: i)
            default: bytes[i] = UInt8.random(in: 0...255, using: &random)
            }
        }
        return bytes
    }

    /// Decodes like the server: envelope, then each method's params.
    func exercise(_ line: [UInt8]) {
        let entries: [Result<RPCRequest, RPCEnvelopeError>]
        switch RPCDecoder.decode(line: line) {
        case .single(let entry): entries = [entry]
        case .batch(let all): entries = all
        }
        for case .success(let request) in entries {
            _ = try? EnqueueParams(request.params)
            _ = try? EnqueueBatchParams(request.params)
            _ = try? ListParams(request.params)
            _ = try? WaitParams(request.params)
            _ = try? JobIDParams(request.params)
            _ = try? QueueParams(request.params)
        }
    }

    /// `JQ_FUZZ_ROUNDS` and `JQ_FUZZ_SEED` make a longer run (docs/reliability.md).
    @Test func mutatedRequestsNeverCrashTheDecoder() {
        let environment = ProcessInfo.processInfo.environment
        let rounds = environment["JQ_FUZZ_ROUNDS"].flatMap(Int.init) ?? 20_000
        var random = Generator(state: environment["JQ_FUZZ_SEED"].flatMap(UInt64.init) ?? 20_261_129)
        var parsed = 0
        for round in 0..<rounds {
            let seed = Array(Self.corpus[round % Self.corpus.count].utf8)
            let line = mutate(seed, &random)
            if (try? JSONReader.parse(line)) != nil { parsed += 1 }
            exercise(line)
        }
        print("fuzz: \(rounds) mutated requests, \(parsed) valid JSON after mutation")
        #expect(parsed > rounds / 200)  // the mutations reach the layers past the parser too
    }

    @Test func randomBytesAndPathologicalInput() {
        var random = Generator(state: 7)
        for _ in 0..<2000 {
            exercise((0..<Int.random(in: 0..<200, using: &random)).map { _ in UInt8.random(in: 0...255, using: &random) })
        }
        exercise(Array(repeating: UInt8(ascii: "["), count: 100_000))  // 100k-deep nesting: refused at 257, no stack overflow
        exercise(Array(#"{"jsonrpc":"2.0","id":1e400,"method":"get","params":{"id":1e400}}"#.utf8))
        exercise(Array(#"{"jsonrpc":"2.0","id":1,"method":"get","params":{"id":-9223372036854775809}}"#.utf8))
        #expect(throws: JSONSyntaxError.self) { try JSONReader.parse(Array(repeating: UInt8(ascii: "["), count: 100_000)) }
    }
}
