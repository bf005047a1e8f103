import Testing
@testable import JobStore
