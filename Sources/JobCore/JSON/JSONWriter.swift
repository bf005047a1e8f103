

/// Builds one JSON text by appending: no intermediate tree, and raw JSON
/// (a payload, a result) is copied in as it was received.
public struct JSONWriter: Sendable {
    public private(set) var bytes: [UInt8] = []

    public init(capacity: Int = 256) {
        bytes.reserveCapacity(capacity)
    }

    public var text: String { String(decoding: bytes, as: UTF8.self) }

    public mutating func raw(_ text: String) {
        bytes.append(contentsOf: text.utf8)
    }

    public mutating func raw(_ value: RawJSON) {
        bytes.append(contentsOf: value.text.utf8)
    }

    /// Appends another writer's JSON text.
    public mutating func raw(_ other: JSONWriter) {
        bytes.append(contentsOf: other.bytes)
    }

    public mutating func null() { raw("null") }

    public mutating func bool(_ value: Bool) { raw(value ? "true" : "false") }

    public mutating func integer<T: BinaryInteger>(_ value: T) { raw(String(value)) }

    /// A JSON string. With `contentLimit`, stops (at a character boundary)
    /// before the escaped text between the quotes would pass that many
    /// bytes; returns true when it stopped short.
    @discardableResult
    public mutating func string(_ value: String, contentLimit: Int = .max) -> Bool {
        bytes.append(UInt8(ascii: "\""))
        let start = bytes.count
        var cut = false
        for b in value.utf8 {
            if b & 0xC0 != 0x80 {  // the first byte of a character: will all of it fit?
                let size = switch b {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "\n"), UInt8(ascii: "\r"), UInt8(ascii: "\t"): 2
                case 0..<0x20: 6
                case 0x80...: b >= 0xF0 ? 4 : (b >= 0xE0 ? 3 : 2)
                default: 1
                }
                if bytes.count - start + size > contentLimit {
                    cut = true
                    break
                }
            }
            switch b {
            case UInt8(ascii: "\""): bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\"")])
            case UInt8(ascii: "\\"): bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\\")])
            case UInt8(ascii: "\n"): bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "n")])
            case UInt8(ascii: "\r"): bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "r")])
            case UInt8(ascii: "\t"): bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "t")])
            case 0..<0x20:
                let hex = Array("0123456789abcdef".utf8)
                bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "u"), UInt8(ascii: "0"), UInt8(ascii: "0"),
                                          hex[Int(b >> 4)], hex[Int(b & 0xF)]])
            default: bytes.append(b)
            }
        }
        bytes.append(UInt8(ascii: "\""))
        return cut
    }

    public mutating func optionalString(_ value: String?) {
        if let value { string(value) } else { null() }
    }

    public mutating func timestamp(_ value: Timestamp?) {
        guard let value else { return null() }
        // Digits and `-:.TZ` only: nothing to escape.
        bytes.append(UInt8(ascii: "\""))
        value.appendRFC3339(to: &bytes)
        bytes.append(UInt8(ascii: "\""))
    }

    /// `{"k":v,...}`: `body` writes the members with `member`.
    public mutating func object(_ body: (inout ObjectWriter) -> Void) {
        var object = ObjectWriter(writer: self)
        bytes = []
        object.writer.bytes.append(UInt8(ascii: "{"))
        body(&object)
        object.writer.bytes.append(UInt8(ascii: "}"))
        self = object.writer
    }

    public mutating func array<S: Sequence>(_ elements: S, _ element: (inout JSONWriter, S.Element) -> Void) {
        bytes.append(UInt8(ascii: "["))
        var first = true
        for e in elements {
            if !first { bytes.append(UInt8(ascii: ",")) }
            first = false
            element(&self, e)
        }
        bytes.append(UInt8(ascii: "]"))
    }

    public struct ObjectWriter {
        var writer: JSONWriter
        var first = true

        /// Writes `"key":` and then the value through `value`.
        public mutating func member(_ key: String, _ value: (inout JSONWriter) -> Void) {
            if !first { writer.bytes.append(UInt8(ascii: ",")) }
            first = false
            writer.string(key)
            writer.bytes.append(UInt8(ascii: ":"))
            value(&writer)
        }
    }
}
