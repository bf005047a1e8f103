import Foundation
import JobClient

/// `--socket`, `--json`, `--no-color`: accepted before or after the command
/// name, so they are taken out of the arguments before the command is parsed
/// (never after `--`, where `exec`'s command begins).
struct GlobalOptions: Sendable {
    var socket: String?
    var json = false
    var noColor = false

    /// The options of this run, and the arguments left for the command.
    static let current: (options: GlobalOptions, rest: [String]) = extract(Array(CommandLine.arguments.dropFirst()))

    static func extract(_ arguments: [String]) -> (options: GlobalOptions, rest: [String]) {
        var options = GlobalOptions()
        var rest: [String] = []
        var index = 0
        while index < arguments.count {
            let argument = arguments[index]
            if argument == "--" {
                rest += arguments[index...]
                break
            }
            switch argument {
            case "--json": options.json = true
            case "--no-color": options.noColor = true
            case "--socket" where index + 1 < arguments.count:
                options.socket = arguments[index + 1]
                index += 1
            case _ where argument.hasPrefix("--socket="):
                options.socket = String(argument.dropFirst("--socket=".count))
            default:
                rest.append(argument)
            }
            index += 1
        }
        return (options, rest)
    }

    /// The socket to use: `--socket`, else `JOBQUEUE_SOCKET`, else the default path.
    var socketPath: String { socket ?? JobClient.defaultSocketPath() }

    /// Colors only on a terminal, and never with `--no-color` or `NO_COLOR`.
    var useColor: Bool {
        !noColor && !json && ProcessInfo.processInfo.environment["NO_COLOR"].map(\.isEmpty) != false && isatty(STDOUT_FILENO) == 1
    }
}
