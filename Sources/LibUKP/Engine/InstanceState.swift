/// The life-cycle state of an instance, as `/vm/<uuid>/status` shows it.
///
/// The raw value is the name the file shows; `code` is the number used by APIs and logs.
public enum InstanceState: String, Sendable, Hashable, CaseIterable {
    case starting = "Starting"
    case running = "Running"
    case draining = "Draining"
    case stopping = "Stopping"
    case stopped = "Stopped"
    /// Kept as a template for further instances; it has not stopped.
    case template = "Template"

    /// The numeric code: Stopped 0, Starting 1, Running 2, Draining 3, Stopping 4, Template 5.
    public var code: Int {
        switch self {
        case .stopped: 0
        case .starting: 1
        case .running: 2
        case .draining: 3
        case .stopping: 4
        case .template: 5
        }
    }

    /// The state with a numeric code, if any.
    public init?(code: Int) {
        guard let state = Self.allCases.first(where: { $0.code == code }) else { return nil }
        self = state
    }
}
