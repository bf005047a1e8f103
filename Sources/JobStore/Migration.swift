/// One schema change: `migrations/NNNN_name.sql`, embedded in the binary.
public struct Migration: Sendable, Hashable {
    /// NNNN of the file name: migrations apply in this order, each once.
    public let version: Int
    public let fileName: String
    public let sql: String

    public init(version: Int, fileName: String, sql: String) {
        self.version = version
        self.fileName = fileName
        self.sql = sql
    }

    /// The migrations this binary carries.
    public static var all: [Migration] { embedded }
}
