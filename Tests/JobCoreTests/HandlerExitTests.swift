import Testing
@testable import JobCore

@Suite struct HandlerExitTests {
    @Test func zeroSucceeds() {
        #expect(HandlerExit.exited(code: 0).verdict == .succeeded)
    }

    @Test(arguments: [Int32(64), 65, 66, 67, 68, 69, 70, 71, 72, 73, 74, 76, 77, 78])
    func sysexitsOtherThanTempfailArePermanent(code: Int32) {
        #expect(HandlerExit.exited(code: code).verdict == .permanentFailure)
    }

    @Test(arguments: [Int32(1), 2, 63, 75, 79, 126, 127, 255])
    func otherCodesAreRetried(code: Int32) {
        #expect(HandlerExit.exited(code: code).verdict == .retryableFailure)
    }

    @Test func signalsAndTimeoutsAreRetried() {
        #expect(HandlerExit.signaled(signal: 9).verdict == .retryableFailure)
        #expect(HandlerExit.signaled(signal: 15).verdict == .retryableFailure)
        #expect(HandlerExit.timedOut.verdict == .retryableFailure)
    }
}
