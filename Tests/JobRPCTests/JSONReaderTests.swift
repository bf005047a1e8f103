import Foundation
import JobCore
import Testing
@testable import JobRPC
@testable import JobCore

@Suite struct JSONReaderTests {
    func parse(_ text: String) throws -> JSONValue { try JSONReader.parse(Array(text.utf8)) }

    @Test(arguments: [
        "null", "true", "false", "0", "-0", "12", "-3.25e+10", "1E5", "\"\"", "\"a\\\"b\\\\c\\/\\n\\u00e9\"",
        "[]", "{}", " [1, [2, [3]], {\"a\": {\"b\": []}}] ", "{\"k\":\"v\",\"n\":null}", "\"é 日本 😀\"",
    ])
    func acceptsValidJSON(text: String) throws {
        _ = try parse(text)
    }

    @Test(arguments: [
        "", " ", "nul", "tru", "01", "1.", ".5", "-", "1e", "+1", "[1,]", "[,1]", "{\"a\":1,}", "{a:1}", "{\"a\" 1}",
        "\"abc", "\"\\x\"", "\"\\u12g4\"", "\"tab\there\"", "[1] [2]", "NaN", "'x'", "{\"a\":1}}",
    ])
    func refusesInvalidJSON(text: String) {
        #expect(throws: JSONSyntaxError.self) { try parse(text) }
    }

    @Test(arguments: [[0xFF], [0x22, 0xC3, 0x28, 0x22], [0x22, 0xED, 0xA0, 0x80, 0x22], [0x22, 0xE0, 0x80, 0x80, 0x22],
                      [0x22, 0xF4, 0x90, 0x80, 0x80, 0x22], [0x22, 0xC0, 0xAF, 0x22]] as [[UInt8]])
    func refusesInvalidUTF8(bytes: [UInt8]) {
        #expect(throws: JSONSyntaxError.self) { try JSONReader.parse(bytes) }
    }

    @Test func nestingUpTo256LevelsOnly() throws {
        _ = try parse(String(repeating: "[", count: 256) + String(repeating: "]", count: 256))
        #expect(throws: JSONSyntaxError.self) {
            try parse(String(repeating: "[", count: 257) + String(repeating: "]", count: 257))
        }
        #expect(throws: JSONSyntaxError.self) {
            try parse(String(repeating: "{\"a\":", count: 257) + "1" + String(repeating: "}", count: 257))
        }
    }

    @Test func readsMembersElementsAndScalars() throws {
        let v = try parse(#" { "a" : [1, "x", {"y": [true]}] , "b\n": -7, "c": 1.5, "d": "\ud83d\ude00\u00e9", "e": null } "#)
        let members = try #require(v.members)
        #expect(members.map(\.key) == ["a", "b\n", "c", "d", "e"])
        let a = try #require(members[0].value.elements)
        #expect(a.count == 3 && a[0].integer == 1 && a[1].string == "x")
        #expect(a[2].rawText == #"{"y": [true]}"#)
        #expect(members[1].value.integer == -7)
        #expect(members[2].value.integer == nil && members[2].value.kind == .number)
        #expect(members[3].value.string == "😀é")
        #expect(members[4].value.isNull)
    }

    @Test func stringsDecodeLikeFoundation() throws {
        for text in [#""plain""#, #""q\"uote\\slash\/""#, #""\b\f\n\r\t""#, #""\u0000\u001f\u20ac""#, #""\ud83d\ude00""#] {
            let ours = try parse(text).string
            let foundation = try JSONSerialization.jsonObject(with: Data(text.utf8), options: .fragmentsAllowed) as? String
            #expect(ours == foundation, "\(text)")
        }
    }

    @Test func writerEscapesAndRoundTrips() throws {
        let tricky = "a\"b\\c\n\r\t\u{01}\u{1f} é😀"
        var w = JSONWriter()
        w.object { o in
            o.member("s") { $0.string(tricky) }
            o.member("n") { $0.integer(-42) }
            o.member("list") { $0.array([1, 2]) { w, n in w.integer(n) } }
        }
        let back = try JSONReader.parse(w.bytes)
        let members = try #require(back.members)
        #expect(members[0].value.string == tricky)
        #expect(members[1].value.integer == -42)
        #expect(w.text.hasSuffix(#","n":-42,"list":[1,2]}"#))
    }
}

@Suite struct JSONWriterLimitTests {
    @Test func aLimitedStringStopsAtACharacterBoundaryWithinTheLimit() throws {
        for (text, limit) in [("abcdef", 4), ("\u{0}\u{0}\u{0}", 13), ("é€😀x", 6), ("a\"b", 2), ("plain", 100)] {
            var w = JSONWriter()
            let cut = w.string(text, contentLimit: limit)
            let decoded = try #require(try JSONReader.parse(w.bytes).string)
            #expect(w.bytes.count - 2 <= limit, "\(text) at \(limit)")
            #expect(text.hasPrefix(decoded) && cut == (decoded != text), "\(text) at \(limit): \(decoded)")
        }
    }
}
