/// A JSON text kept as it came, never parsed into a tree on the hot path:
/// payloads and results go from the socket to the database and back as text.
/// Whoever builds one has checked that the text is one valid JSON value.
public struct RawJSON: Hashable, Sendable, CustomStringConvertible {
    public let text: String

    public init(validatedText text: String) {
        self.text = text
    }

    public static let null = RawJSON(validatedText: "null")

    public var description: String { text }
}
