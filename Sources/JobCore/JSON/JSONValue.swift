/// One value inside a message that `JSONReader` has checked: a range of its
/// bytes, read on demand. Reading assumes the bytes are valid JSON.
public struct JSONValue: Sendable {
    let bytes: [UInt8]
    let range: Range<Int>

    public enum Kind: Sendable, Equatable {
        case object, array, string, number, bool, null
    }

    public var kind: Kind {
        switch bytes[range.lowerBound] {
        case UInt8(ascii: "{"): .object
        case UInt8(ascii: "["): .array
        case UInt8(ascii: "\""): .string
        case UInt8(ascii: "t"), UInt8(ascii: "f"): .bool
        case UInt8(ascii: "n"): .null
        default: .number
        }
    }

    /// The value's JSON text exactly as received.
    public var rawText: String {
        String(decoding: bytes[range], as: UTF8.self)
    }

    public var isNull: Bool { kind == .null }

    public var bool: Bool? {
        kind == .bool ? bytes[range.lowerBound] == UInt8(ascii: "t") : nil
    }

    /// The number as an integer, or nil when it has a fraction or an
    /// exponent or does not fit in 64 bits.
    public var integer: Int64? {
        guard kind == .number else { return nil }
        let text = bytes[range]
        guard !text.contains(UInt8(ascii: ".")), !text.contains(UInt8(ascii: "e")), !text.contains(UInt8(ascii: "E"))
        else { return nil }
        return Int64(String(decoding: text, as: UTF8.self))
    }

    /// The decoded string, or nil when this is not a string.
    public var string: String? {
        guard kind == .string else { return nil }
        return decodeString(from: range.lowerBound).value
    }

    /// The members of an object in order (nil when this is not an object).
    /// A key given twice appears twice; `JSONObject` refuses that.
    public var members: [(key: String, value: JSONValue)]? {
        guard kind == .object else { return nil }
        var result: [(key: String, value: JSONValue)] = []
        var i = skipWhitespace(range.lowerBound + 1)
        if bytes[i] == UInt8(ascii: "}") { return result }
        while true {
            let (key, afterKey) = decodeString(from: i)
            i = skipWhitespace(afterKey) + 1  // ':'
            i = skipWhitespace(i)
            let end = endOfValue(from: i)
            result.append((key, JSONValue(bytes: bytes, range: i..<end)))
            i = skipWhitespace(end)
            if bytes[i] == UInt8(ascii: "}") { return result }
            i = skipWhitespace(i + 1)  // ','
        }
    }

    /// The value of the first member named `key`, when this is an object.
    public func member(_ key: String) -> JSONValue? {
        members?.first { $0.key == key }?.value
    }

    /// The elements of an array in order (nil when this is not an array).
    public var elements: [JSONValue]? {
        guard kind == .array else { return nil }
        var result: [JSONValue] = []
        var i = skipWhitespace(range.lowerBound + 1)
        if bytes[i] == UInt8(ascii: "]") { return result }
        while true {
            let end = endOfValue(from: i)
            result.append(JSONValue(bytes: bytes, range: i..<end))
            i = skipWhitespace(end)
            if bytes[i] == UInt8(ascii: "]") { return result }
            i = skipWhitespace(i + 1)  // ','
        }
    }

    private func skipWhitespace(_ start: Int) -> Int {
        var i = start
        while i < range.upperBound, bytes[i] == 0x20 || bytes[i] == 0x0A || bytes[i] == 0x0D || bytes[i] == 0x09 { i += 1 }
        return i
    }

    /// The index just past the valid value starting at `start`.
    private func endOfValue(from start: Int) -> Int {
        var i = start
        switch bytes[i] {
        case UInt8(ascii: "\""):
            return endOfString(from: i)
        case UInt8(ascii: "{"), UInt8(ascii: "["):
            var depth = 0
            while true {
                switch bytes[i] {
                case UInt8(ascii: "\""): i = endOfString(from: i); continue
                case UInt8(ascii: "{"), UInt8(ascii: "["): depth += 1
                case UInt8(ascii: "}"), UInt8(ascii: "]"):
                    depth -= 1
                    if depth == 0 { return i + 1 }
                default: break
                }
                i += 1
            }
        default:
            // A number or a literal: up to the next delimiter.
            while i < range.upperBound {
                switch bytes[i] {
                case UInt8(ascii: ","), UInt8(ascii: "}"), UInt8(ascii: "]"), 0x20, 0x0A, 0x0D, 0x09: return i
                default: i += 1
                }
            }
            return i
        }
    }

    private func endOfString(from start: Int) -> Int {
        var i = start + 1
        while bytes[i] != UInt8(ascii: "\"") {
            i += bytes[i] == UInt8(ascii: "\\") ? 2 : 1
        }
        return i + 1
    }

    /// Decodes the string starting at `start` (its opening quote); returns it
    /// and the index past its closing quote.
    private func decodeString(from start: Int) -> (value: String, end: Int) {
        let end = endOfString(from: start)
        let body = bytes[(start + 1)..<(end - 1)]
        if !body.contains(UInt8(ascii: "\\")) {
            return (String(decoding: body, as: UTF8.self), end)
        }
        var scalars = String.UnicodeScalarView()
        var utf8: [UInt8] = []
        var i = body.startIndex
        func flush() {
            if !utf8.isEmpty {
                scalars.append(contentsOf: String(decoding: utf8, as: UTF8.self).unicodeScalars)
                utf8.removeAll()
            }
        }
        while i < body.endIndex {
            let b = body[i]
            guard b == UInt8(ascii: "\\") else {
                utf8.append(b)
                i += 1
                continue
            }
            flush()
            let e = body[i + 1]
            i += 2
            switch e {
            case UInt8(ascii: "b"): scalars.append("\u{08}")
            case UInt8(ascii: "f"): scalars.append("\u{0C}")
            case UInt8(ascii: "n"): scalars.append("\n")
            case UInt8(ascii: "r"): scalars.append("\r")
            case UInt8(ascii: "t"): scalars.append("\t")
            case UInt8(ascii: "u"):
                var unit = hex4(body, at: i)
                i += 4
                // A high surrogate followed by an escaped low one is one scalar;
                // a lone surrogate becomes U+FFFD.
                if (0xD800..<0xDC00).contains(unit), i + 6 <= body.endIndex,
                   body[i] == UInt8(ascii: "\\"), body[i + 1] == UInt8(ascii: "u") {
                    let low = hex4(body, at: i + 2)
                    if (0xDC00..<0xE000).contains(low) {
                        unit = 0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00)
                        i += 6
                    }
                }
                scalars.append(Unicode.Scalar(unit) ?? "\u{FFFD}")
            default: scalars.append(Unicode.Scalar(e))  // \" \\ \/
            }
        }
        flush()
        return (String(scalars), end)
    }

    private func hex4(_ body: ArraySlice<UInt8>, at i: Int) -> UInt32 {
        (0..<4).reduce(UInt32(0)) { $0 << 4 | hexValue(body[i + $1])! }
    }
}
