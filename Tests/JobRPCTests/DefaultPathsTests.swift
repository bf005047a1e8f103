import Testing
@testable import JobRPC

@Suite struct DefaultPathsTests {
    @Test func root() {
        let p = DefaultPaths(environment: ["HOME": "/root"], uid: 0)
        #expect(p == DefaultPaths(environment: [:], uid: 0))
        #expect(p.config == "/etc/jobqueue/jobqueued.yaml" && p.database == "/var/lib/jobqueue/jobs.db")
        #expect(p.socket == "/run/jobqueue/jobqueued.sock" && p.isSystem)
    }

    @Test func aSystemUnitRunningAsItsOwnUser() {
        let p = DefaultPaths(environment: ["STATE_DIRECTORY": "/var/lib/jobqueue", "RUNTIME_DIRECTORY": "/run/jobqueue", "HOME": "/"], uid: 990)
        #expect(p.isSystem && p.config == "/etc/jobqueue/jobqueued.yaml")
        #expect(p.database == "/var/lib/jobqueue/jobs.db" && p.socket == "/run/jobqueue/jobqueued.sock")
    }

    @Test func aUser() {
        let p = DefaultPaths(environment: ["HOME": "/home/ann", "XDG_RUNTIME_DIR": "/run/user/1000"], uid: 1000)
        #expect(!p.isSystem && p.config == "/home/ann/.config/jobqueue/jobqueued.yaml")
        #expect(p.database == "/home/ann/.local/state/jobqueue/jobs.db" && p.socket == "/run/user/1000/jobqueue/jobqueued.sock")
        let bare = DefaultPaths(environment: ["HOME": "/home/ann", "XDG_STATE_HOME": "/st", "XDG_CONFIG_HOME": "/cf"], uid: 1000)
        #expect(bare.socket == "/tmp/jobqueue-1000/jobqueued.sock" && bare.database == "/st/jobqueue/jobs.db" && bare.config == "/cf/jobqueue/jobqueued.yaml")
    }

    /// The per-user unit: systemd sets RUNTIME_DIRECTORY under /run/user, and
    /// no STATE_DIRECTORY (the unit has none).
    @Test func aUserUnitOfSystemd() {
        let p = DefaultPaths(environment: ["HOME": "/home/ann", "XDG_RUNTIME_DIR": "/run/user/1000", "RUNTIME_DIRECTORY": "/run/user/1000/jobqueue"],
                             uid: 1000)
        #expect(!p.isSystem && p.config == "/home/ann/.config/jobqueue/jobqueued.yaml")
        #expect(p.database == "/home/ann/.local/state/jobqueue/jobs.db" && p.socket == "/run/user/1000/jobqueue/jobqueued.sock")
    }

    @Test func theEnvironmentVariableWinsOverTheDefaultSocket() {
        #expect(DefaultPaths(environment: ["JOBQUEUE_SOCKET": "/tmp/x.sock"], uid: 0).socket == "/tmp/x.sock")
    }
}
