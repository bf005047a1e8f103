import Foundation

/// The dashboard's token (OBSERVABILITY.md, "Access"): 32 random bytes in
/// hex, in a file of mode 0600 that the daemon creates when missing.
public struct AccessToken: Sendable, Equatable {
    public let value: String

    public struct Problem: Error, CustomStringConvertible {
        public var description: String
    }

    /// Reads `path`, or creates it with a new token when it does not exist.
    /// A file that exists but holds no token of 32+ hex digits is a problem
    /// (never silently replaced: a proxy or a script may hold the old one).
    public static func loadOrCreate(path: String) throws(Problem) -> AccessToken {
        if let data = FileManager.default.contents(atPath: path) {
            let text = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            guard text.count >= 32, text.allSatisfy(\.isHexDigit) else {
                throw Problem(description: "\(path) holds no token (expected 64 hex digits); delete it to have a new one made")
            }
            return AccessToken(value: text)
        }
        var generator = SystemRandomNumberGenerator()  // getrandom(2)
        let value = (0..<32).map { _ in String(format: "%02x", UInt8.random(in: 0...255, using: &generator)) }.joined()
        let folder = (path as NSString).deletingLastPathComponent
        try? FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o750])
        // O_EXCL: two daemons starting at once never overwrite each other's token.
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            throw Problem(description: "cannot create \(path): \(String(cString: strerror(errno)))")
        }
        defer { close(fd) }
        let line = Array((value + "\n").utf8)
        guard write(fd, line, line.count) == line.count, fsync(fd) == 0 else {
            unlink(path)
            throw Problem(description: "cannot write \(path): \(String(cString: strerror(errno)))")
        }
        return AccessToken(value: value)
    }

    /// Compares in time that does not depend on where the strings differ.
    public func matches(_ candidate: Substring?) -> Bool {
        guard let candidate else { return false }
        let a = Array(value.utf8)
        let b = Array(candidate.utf8)
        guard a.count == b.count else { return false }
        var difference: UInt8 = 0
        for index in a.indices { difference |= a[index] ^ b[index] }
        return difference == 0
    }

    /// The default file: `http.token` beside the database.
    public static func defaultPath(database: String) -> String {
        ((database as NSString).deletingLastPathComponent as NSString).appendingPathComponent("http.token")
    }
}
