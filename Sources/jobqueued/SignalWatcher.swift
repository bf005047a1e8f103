import Dispatch
import Foundation

/// SIGTERM/SIGINT (stop) and SIGHUP (reload) as an async sequence.
final class SignalWatcher {
    enum Event: Sendable {
        case stop
        case reload
    }

    let events: AsyncStream<Event>
    private let sources: [any DispatchSourceSignal]

    init() {
        let (stream, continuation) = AsyncStream.makeStream(of: Event.self)
        events = stream
        var sources: [any DispatchSourceSignal] = []
        for (signal, event) in [(SIGTERM, Event.stop), (SIGINT, .stop), (SIGHUP, .reload)] {
            Foundation.signal(signal, SIG_IGN)  // handled below, not by the default action
            let source = DispatchSource.makeSignalSource(signal: signal, queue: .global())
            source.setEventHandler { continuation.yield(event) }
            source.resume()
            sources.append(source)
        }
        self.sources = sources
    }
}
