import JobCore
import Testing
@testable import JobEngine

@Suite struct ConfigLoaderTests {
    let loader = ConfigLoader(defaultWorkers: 3)

    @Test func anEmptyFileGivesTheDefaults() throws {
        let config = try loader.parse("", file: "x.yaml")
        #expect(config == DaemonConfig(workers: 3))
        #expect(config.durability == .full && config.shutdownGraceMs == 30_000 && config.socket.mode == 0o660)
        #expect(config.limits == DaemonConfig.Limits())
        #expect(config.handler(named: "noop") != nil && config.handler(named: "exec") == nil)
    }

    @Test func readsEveryKeyOfTheSpecExample() throws {
        let config = try loader.parse("""
            workers: 8
            durability: normal
            shutdown_grace: 30s
            retention:
              succeeded: 7d
              failed: 30d
              cancelled: 1h
            socket:
              mode: "0640"
              group: jobqueue
              allow_uids: [1000, 1001]
              allow_gids: [50]
            limits:
              max_message_bytes: 2MiB
              max_payload_bytes: 256KiB
              max_result_bytes: 1MiB
              max_queued_jobs: 100
              max_connections: 10
              idle_timeout: 1m
            queues:
              default: { concurrency: 4 }
              images:  { concurrency: 2 }
            handlers:
              thumbnail:
                command: ["/usr/local/bin/make-thumbnail", "--size", "256"]
                queue: images
                timeout: 60s
                max_attempts: 5
                backoff: { initial: 1s, factor: 2, max: 1h, jitter: 0.2 }
                env: { LANG: C.UTF-8 }
                working_directory: /var/lib/jobqueue/work
              exec:
                builtin: exec
            """, file: "x.yaml")
        #expect(config.workers == 8 && config.durability == .normal)
        #expect(config.retentionMs[.cancelled] == 3_600_000)
        #expect(config.socket == DaemonConfig.Socket(mode: 0o640, group: "jobqueue", allowUIDs: [1000, 1001], allowGIDs: [50]))
        #expect(config.limits.maxMessageBytes == 2 << 20 && config.limits.maxQueuedJobs == 100 && config.limits.idleTimeoutMs == 60_000)
        #expect(config.concurrency(of: "images") == 2 && config.concurrency(of: "other") == 4)
        let thumbnail = try #require(config.handler(named: "thumbnail"))
        #expect(thumbnail.kind == .command(["/usr/local/bin/make-thumbnail", "--size", "256"]))
        #expect(thumbnail.queue == "images" && thumbnail.timeoutMs == 60_000 && thumbnail.maxAttempts == 5)
        #expect(thumbnail.backoff == .default && thumbnail.env == ["LANG": "C.UTF-8"])
        #expect(thumbnail.workingDirectory == "/var/lib/jobqueue/work")
        #expect(config.handler(named: "exec")?.kind == .builtin(.exec))
    }

    @Test func reportsEveryProblemWithItsKeyAndLine() {
        do {
            _ = try loader.parse("""
                workers: 0
                durability: sometimes
                limits:
                  max_result_bytes: 10MB
                handlers:
                  a:
                    builtin: teleport
                  b:
                    command: "ls -l"
                  c:
                    builtin: echo
                    env: { X: y }
                  d: {}
                surprise: true
                """, file: "bad.yaml")
            Issue.record("accepted")
        } catch {
            let text = error.description
            for expected in ["bad.yaml: line 1: workers", "line 2: durability", "line 4: limits.max_result_bytes",
                             "line 7: handlers.a.builtin", "handlers.b.command", "handlers.c.env", "handlers.d: needs command or builtin",
                             "line 14: surprise: unknown key"] {
                #expect(text.contains(expected), "missing \(expected) in:\n\(text)")
            }
            #expect(error.problems.count == 8)
        }
    }

    @Test func readsAnExternalHandlerOfWorkersMd() throws {
        let config = try loader.parse("""
            handlers:
              resize:
                external: true
                queue: images
                lease: 30s
                max_attempts: 5
                backoff: { initial: 1s, factor: 2, max: 1h, jitter: 0.2 }
                timeout: 10m
              plain:
                external: true
            """, file: "x.yaml")
        let resize = try #require(config.handlers["resize"])
        #expect(resize.kind == .external && resize.queue == "images" && resize.leaseMs == 30_000 && resize.timeoutMs == 600_000)
        #expect(resize.maxAttempts == 5 && resize.backoff.initialMs == 1000 && resize.backoff.jitter == 0.2)
        #expect(config.handlers["plain"]?.leaseMs == nil && config.handlers["plain"]?.kind == .external)
    }

    @Test func anExternalHandlerRefusesWhatOnlyTheDaemonRuns() {
        do {
            _ = try loader.parse("""
                handlers:
                  a:
                    external: true
                    command: ["/bin/true"]
                    env: { A: "1" }
                    lease: 500ms
                  b:
                    builtin: noop
                    lease: 5s
                  c:
                    external: maybe
                """, file: "x.yaml")
            Issue.record("accepted")
        } catch {
            let text = error.problems.map(\.description)
            #expect(text.contains { $0.contains("handlers.a.command") && $0.contains("not allowed next to external") })
            #expect(text.contains { $0.contains("handlers.a.env") })
            #expect(text.contains { $0.contains("handlers.a.lease") && $0.contains("1s to 1h") })
            #expect(text.contains { $0.contains("handlers.b.lease") && $0.contains("external handlers only") })
            #expect(text.contains { $0.contains("handlers.c.external") && $0.contains("true or false") })
        }
    }

    @Test func aMissingDefaultFileIsTheDefaultsButANamedOneMustExist() throws {
        #expect(try loader.load(path: "/nonexistent/jobqueued.yaml", mustExist: false) == DaemonConfig(workers: 3))
        #expect(throws: ConfigError.self) { try loader.load(path: "/nonexistent/jobqueued.yaml", mustExist: true) }
    }
}
