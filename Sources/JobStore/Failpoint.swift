import Foundation

/// Test-only crash points: in a debug build, `JOBQUEUE_FAILPOINT=<name>`
/// makes the daemon abort (as a kill -9 would stop it) when it reaches that
/// place. Release builds compile every `hit()` to nothing.
public enum Failpoint: String, Sendable, CaseIterable {
    /// The writer has begun the transaction of an enqueue and run none of its statements.
    case afterBegin = "after-begin"
    /// An enqueue's INSERT ran; its transaction has not committed.
    case afterInsert = "after-insert"
    /// A transaction with an enqueue committed; its callers have not been answered.
    case afterCommit = "after-commit"
    /// A job's claim committed; its handler has not started.
    case afterClaim = "after-claim"
    /// A handler ended; the end of the attempt is not yet committed.
    case afterHandler = "after-handler"
    /// A schedule's tick enqueued its job; neither the job nor the tick is committed.
    case scheduleTick = "schedule-tick"

    #if DEBUG
    private static let armed: Failpoint? = ProcessInfo.processInfo.environment["JOBQUEUE_FAILPOINT"].flatMap(Failpoint.init(rawValue:))
    #endif

    /// Aborts the process if this failpoint is armed (debug builds only).
    @inline(__always)
    public func hit() {
        #if DEBUG
        if Self.armed == self {
            FileHandle.standardError.write(Data("jobqueued: failpoint \(rawValue) reached, aborting\n".utf8))
            abort()
        }
        #endif
    }
}
