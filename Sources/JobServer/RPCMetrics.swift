import JobRPC
import JobStore
import Synchronization

/// `jobqueue_rpc_requests_total{method, code}`: one atomic per method and
/// answer code, allocated at start, so counting a request takes no lock and
/// no allocation. Methods outside the protocol count as `_other`.
public final class RPCMetrics: Sendable {
    public static let otherMethod = "_other"
    /// The methods, in a fixed order (`_other` last).
    public let methods: [String]
    /// The codes: 0 for success, then every protocol error code.
    public let codes: [Int] = [0] + RPCErrorCode.allCases.map(\.rawValue)
    private let methodIndex: [String: Int]
    private let counts: AtomicCounters

    init(methods names: [String]) {
        methods = names.sorted() + [Self.otherMethod]
        methodIndex = Dictionary(uniqueKeysWithValues: methods.enumerated().map { ($1, $0) })
        counts = AtomicCounters(count: methods.count * codes.count)
    }

    func count(method: String, code: RPCErrorCode?) {
        let row = methodIndex[method] ?? methods.count - 1
        let column = code.map { codeIndex($0) } ?? 0
        counts[row * codes.count + column].add(1, ordering: .relaxed)
    }

    private func codeIndex(_ code: RPCErrorCode) -> Int {
        RPCErrorCode.allCases.firstIndex(of: code)! + 1
    }

    /// Every (method, code) answered at least once, with its count.
    public func snapshot() -> [(method: String, code: Int, count: Int)] {
        var answered: [(method: String, code: Int, count: Int)] = []
        for (row, method) in methods.enumerated() {
            for (column, code) in codes.enumerated() {
                let n = counts[row * codes.count + column].load(ordering: .relaxed)
                if n > 0 { answered.append((method, code, n)) }
            }
        }
        return answered
    }
}
