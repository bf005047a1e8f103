import ArgumentParser
import Foundation

// jobctl: parse (global options first), run, and leave with CLI.md's exit status.
let (globals, arguments) = GlobalOptions.current

func fail(_ status: Int32, _ message: String) -> Never {
    FileHandle.standardError.write(Data("jobctl: \(message)\n".utf8))
    exit(status)
}

/// `jobctl help [COMMAND]` and `jobctl COMMAND --help`: the command's own help.
func helpRequest(_ arguments: [String]) -> String? {
    let beforeCommand = arguments.prefix { $0 != "--" }
    let words = beforeCommand.filter { !$0.hasPrefix("-") }
    guard words.first == "help" || beforeCommand.contains("--help") || beforeCommand.contains("-h") else { return nil }
    let name = words.first == "help" ? words.dropFirst().first : words.first
    let command = Jobctl.configuration.subcommands.first { $0._commandName == name }
    return command?.helpMessage(columns: 100) ?? Jobctl.helpMessage(columns: 100)
}

if let help = helpRequest(arguments) {
    print(help)
    exit(0)
}

do {
    let command = try Jobctl.parseAsRoot(arguments)
    guard let jobctlCommand = command as? any JobctlCommand else {
        print(Jobctl.helpMessage())  // `jobctl` alone
        exit(0)
    }
    try await jobctlCommand.perform()
} catch let error as CLIError {
    if error.message.isEmpty { exit(error.status) }  // already reported, line by line
    fail(error.status, error.message)
} catch {
    // Help and --version end well; anything else the parser refused is a usage error.
    if Jobctl.exitCode(for: error) == .success { Jobctl.exit(withError: error) }
    fail(2, Jobctl.message(for: error).replacingOccurrences(of: "\n", with: " "))
}
