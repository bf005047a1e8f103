import Synchronization

/// A fixed number of atomic counters in one allocation, at stable
/// addresses (an `Atomic` cannot live in an Array).
public final class AtomicCounters: @unchecked Sendable {
    private let storage: UnsafeMutablePointer<Atomic<Int>>
    public let count: Int

    public init(count: Int) {
        self.count = count
        storage = .allocate(capacity: count)
        for index in 0..<count { (storage + index).initialize(to: Atomic<Int>(0)) }
    }

    deinit {
        storage.deinitialize(count: count)
        storage.deallocate()
    }

    public subscript(index: Int) -> Atomic<Int> {
        unsafeAddress { UnsafePointer(storage + index) }
    }
}
