import Foundation
import Testing
@testable import JobStore

@Suite struct CheckpointTests {
    /// The WAL file's size after enqueues that append `appendBytes` to it in
    /// all, each in its own transaction, checkpointing after `threshold`.
    func walFileSize(threshold: Int, appendBytes: Int) async throws -> Int {
        let t = try TestStore { $0.checkpointAfterWALBytes = threshold }
        while t.store.writerCounters.walBytes < appendBytes {
            _ = try await t.enqueue()
        }
        let size = try FileManager.default.attributesOfItem(atPath: t.path + "-wal")[.size] as? Int
        return size ?? 0
    }

    @Test func theWriterCheckpointsOnceTheWALHoldsTheConfiguredSize() async throws {
        // With no reader pinning it, a checkpointed WAL starts again from its
        // beginning: the file stays near the threshold however much is written.
        let checkpointed = try await walFileSize(threshold: 128 << 10, appendBytes: 1 << 20)
        #expect(checkpointed < 256 << 10, "\(checkpointed) bytes")
        // A threshold above what was written: no checkpoint, the file holds it all.
        let kept = try await walFileSize(threshold: 64 << 20, appendBytes: 1 << 20)
        #expect(kept > 1 << 20, "\(kept) bytes")
    }
}
