/// The version `--version`, `ping` and `stats` report.
enum JobqueueVersion {
    static let current = "0.1.0"
}
