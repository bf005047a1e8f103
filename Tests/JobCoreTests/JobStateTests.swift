import Testing
@testable import JobCore
