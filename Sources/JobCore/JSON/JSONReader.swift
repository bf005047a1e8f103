/// A message that is not one valid JSON value (RFC 8259), or not UTF-8, or
/// nested too deeply.
public struct JSONSyntaxError: Error, Hashable, Sendable, CustomStringConvertible {
    public var message: String
    /// Byte offset in the message where reading stopped.
    public var offset: Int

    public var description: String { "\(message) at byte \(offset)" }
}

/// Checks a whole message once, strictly, and returns its root as a
/// `JSONValue`. Nothing is decoded here: objects, arrays and strings are read
/// later, and only those the method needs; a job's payload stays raw text.
public enum JSONReader {
    /// PROTOCOL.md: JSON nested deeper than 256 levels is a parse error.
    public static let maxDepth = 256

    public static func parse(_ bytes: [UInt8]) throws(JSONSyntaxError) -> JSONValue {
        var validator = Validator(bytes: bytes)
        validator.skipWhitespace()
        let start = validator.index
        try validator.value(depth: 0)
        let end = validator.index
        validator.skipWhitespace()
        guard validator.index == bytes.count else {
            throw JSONSyntaxError(message: "unexpected data after the JSON value", offset: validator.index)
        }
        return JSONValue(bytes: bytes, range: start..<end)
    }
}

private struct Validator {
    let bytes: [UInt8]
    var index = 0

    init(bytes: [UInt8]) {
        self.bytes = bytes
    }

    func fail(_ message: String) -> JSONSyntaxError {
        JSONSyntaxError(message: message, offset: index)
    }

    var current: UInt8? { index < bytes.count ? bytes[index] : nil }

    mutating func skipWhitespace() {
        while let b = current, b == 0x20 || b == 0x0A || b == 0x0D || b == 0x09 { index += 1 }
    }

    mutating func value(depth: Int) throws(JSONSyntaxError) {
        guard let b = current else { throw fail("unexpected end of JSON") }
        switch b {
        case UInt8(ascii: "{"): try object(depth: depth + 1)
        case UInt8(ascii: "["): try array(depth: depth + 1)
        case UInt8(ascii: "\""): try string()
        case UInt8(ascii: "t"): try literal("true")
        case UInt8(ascii: "f"): try literal("false")
        case UInt8(ascii: "n"): try literal("null")
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): try number()
        default: throw fail("unexpected character")
        }
    }

    mutating func object(depth: Int) throws(JSONSyntaxError) {
        guard depth <= JSONReader.maxDepth else { throw fail("JSON nested deeper than \(JSONReader.maxDepth) levels") }
        index += 1
        skipWhitespace()
        if current == UInt8(ascii: "}") { index += 1; return }
        while true {
            guard current == UInt8(ascii: "\"") else { throw fail("expected a string key") }
            try string()
            skipWhitespace()
            guard current == UInt8(ascii: ":") else { throw fail("expected ':'") }
            index += 1
            skipWhitespace()
            try value(depth: depth)
            skipWhitespace()
            switch current {
            case UInt8(ascii: ","): index += 1; skipWhitespace()
            case UInt8(ascii: "}"): index += 1; return
            default: throw fail("expected ',' or '}'")
            }
        }
    }

    mutating func array(depth: Int) throws(JSONSyntaxError) {
        guard depth <= JSONReader.maxDepth else { throw fail("JSON nested deeper than \(JSONReader.maxDepth) levels") }
        index += 1
        skipWhitespace()
        if current == UInt8(ascii: "]") { index += 1; return }
        while true {
            try value(depth: depth)
            skipWhitespace()
            switch current {
            case UInt8(ascii: ","): index += 1; skipWhitespace()
            case UInt8(ascii: "]"): index += 1; return
            default: throw fail("expected ',' or ']'")
            }
        }
    }

    mutating func literal(_ word: StaticString) throws(JSONSyntaxError) {
        let count = word.utf8CodeUnitCount
        guard index + count <= bytes.count else { throw fail("unexpected end of JSON") }
        for i in 0..<count where bytes[index + i] != word.utf8Start[i] { throw fail("invalid literal") }
        index += count
    }

    mutating func number() throws(JSONSyntaxError) {
        if current == UInt8(ascii: "-") { index += 1 }
        guard let first = current, isDigit(first) else { throw fail("invalid number") }
        index += 1
        if first != UInt8(ascii: "0") { while let b = current, isDigit(b) { index += 1 } }
        if current == UInt8(ascii: ".") {
            index += 1
            guard let b = current, isDigit(b) else { throw fail("invalid number") }
            while let b = current, isDigit(b) { index += 1 }
        }
        if current == UInt8(ascii: "e") || current == UInt8(ascii: "E") {
            index += 1
            if current == UInt8(ascii: "+") || current == UInt8(ascii: "-") { index += 1 }
            guard let b = current, isDigit(b) else { throw fail("invalid number") }
            while let b = current, isDigit(b) { index += 1 }
        }
    }

    mutating func string() throws(JSONSyntaxError) {
        index += 1  // opening quote
        while index < bytes.count {
            let b = bytes[index]
            switch b {
            case UInt8(ascii: "\""):
                index += 1
                return
            case UInt8(ascii: "\\"):
                index += 1
                guard let e = current else { throw fail("unexpected end of JSON") }
                switch e {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"),
                     UInt8(ascii: "f"), UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
                    index += 1
                case UInt8(ascii: "u"):
                    index += 1
                    for _ in 0..<4 {
                        guard let h = current, hexValue(h) != nil else { throw fail("invalid \\u escape") }
                        index += 1
                    }
                default:
                    throw fail("invalid escape")
                }
            case 0..<0x20:
                throw fail("control character in string")
            case 0x20..<0x80:
                index += 1
            default:
                try utf8Sequence()
            }
        }
        throw fail("unterminated string")
    }

    /// One multi-byte UTF-8 scalar: no overlong forms, no surrogates, at most U+10FFFF.
    mutating func utf8Sequence() throws(JSONSyntaxError) {
        let b0 = bytes[index]
        let length: Int
        var lower: UInt8 = 0x80
        var upper: UInt8 = 0xBF
        switch b0 {
        case 0xC2...0xDF: length = 2
        case 0xE0: length = 3; lower = 0xA0
        case 0xE1...0xEC, 0xEE...0xEF: length = 3
        case 0xED: length = 3; upper = 0x9F
        case 0xF0: length = 4; lower = 0x90
        case 0xF1...0xF3: length = 4
        case 0xF4: length = 4; upper = 0x8F
        default: throw fail("invalid UTF-8")
        }
        guard index + length <= bytes.count else { throw fail("invalid UTF-8") }
        let b1 = bytes[index + 1]
        guard b1 >= lower && b1 <= upper else { throw fail("invalid UTF-8") }
        for i in 2..<length where bytes[index + i] & 0xC0 != 0x80 { throw fail("invalid UTF-8") }
        index += length
    }
}

func isDigit(_ b: UInt8) -> Bool { b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9") }

func hexValue(_ b: UInt8) -> UInt32? {
    switch b {
    case UInt8(ascii: "0")...UInt8(ascii: "9"): UInt32(b - UInt8(ascii: "0"))
    case UInt8(ascii: "a")...UInt8(ascii: "f"): UInt32(b - UInt8(ascii: "a") + 10)
    case UInt8(ascii: "A")...UInt8(ascii: "F"): UInt32(b - UInt8(ascii: "A") + 10)
    default: nil
    }
}
