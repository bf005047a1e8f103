import Testing
@testable import JobCore

@Suite struct JobStateTests {
    /// Every legal (state, event) -> state of PROTOCOL.md and SCHEDULING.md;
    /// every pair not listed here must be refused.
    static let legal: [JobState: [JobEvent: JobState]] = [
        .blocked: [.unblocked: .queued, .unblockedUntilRunAt: .scheduled, .dependencyFailed: .cancelled, .cancelled: .cancelled],
        .scheduled: [.becameDue: .queued, .cancelled: .cancelled],
        .queued: [.claimed: .running, .cancelled: .cancelled],
        .running: [
            .succeeded: .succeeded, .failedWillRetryLater: .retrying, .failedWillRetryNow: .queued,
            .failedForGood: .failed, .cancelled: .cancelled,
        ],
        .retrying: [.becameDue: .queued, .cancelled: .cancelled],
        .succeeded: [:],
        .failed: [.retried: .queued, .retriedBlocked: .blocked],
        .cancelled: [.retried: .queued, .retriedBlocked: .blocked],
    ]

    @Test(arguments: JobState.allCases, JobEvent.allCases)
    func transition(from state: JobState, on event: JobEvent) {
        #expect(state.after(event) == Self.legal[state]?[event])
    }

    @Test func eightStatesThreeTerminal() {
        #expect(JobState.allCases.count == 8)
        #expect(Set(JobState.terminal) == [.succeeded, .failed, .cancelled])
        #expect(Set(JobState.active) == [.blocked, .scheduled, .queued, .running, .retrying])
        #expect(JobState.waiting == [.scheduled, .retrying])
    }

    @Test func terminalStatesOnlyLeaveByRetry() {
        for state in JobState.terminal {
            for event in JobEvent.allCases where event != .retried && event != .retriedBlocked {
                #expect(state.after(event) == nil, "\(state) on \(event)")
            }
        }
        #expect(JobState.succeeded.after(.retried) == nil)
    }

    @Test func canMoveMatchesTheTable() {
        for from in JobState.allCases {
            for to in JobState.allCases {
                let expected = Self.legal[from]!.values.contains(to)
                #expect(from.canMove(to: to) == expected, "\(from) -> \(to)")
            }
        }
    }

    @Test func eventSourcesAndTargets() {
        #expect(JobEvent.claimed.allowedSources == [.queued])
        #expect(JobEvent.cancelled.allowedSources == [.blocked, .scheduled, .queued, .running, .retrying])
        #expect(JobEvent.unblocked.allowedSources == [.blocked] && JobEvent.dependencyFailed.target == .cancelled)
        #expect(JobEvent.retried.allowedSources == [.failed, .cancelled])
        #expect(JobEvent.becameDue.allowedSources == [.scheduled, .retrying])
        #expect(JobEvent.failedWillRetryLater.target == .retrying)
        #expect(JobEvent.failedWillRetryNow.target == .queued)
    }

    @Test func stateNamesAreTheProtocols() {
        #expect(JobState.allCases.map(\.rawValue) ==
            ["blocked", "scheduled", "queued", "running", "retrying", "succeeded", "failed", "cancelled"])
    }
}
