import Logging

/// VFSKit's log, for what should never happen (a request dropped unanswered); it goes
/// wherever the application's `LoggingSystem` sends logs.
enum VFSKitLog {
    static let logger = Logger(label: "vfskit")

    static func unanswered(_ what: String) {
        logger.error("\(what): answered EIO")
    }
}
