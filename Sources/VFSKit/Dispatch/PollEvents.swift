/// `poll(2)` event bits.
public struct PollEvents: OptionSet, Sendable, Hashable, CustomStringConvertible {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    public static let `in` = PollEvents(rawValue: 0x001)
    public static let pri = PollEvents(rawValue: 0x002)
    public static let out = PollEvents(rawValue: 0x004)
    public static let err = PollEvents(rawValue: 0x008)
    public static let hup = PollEvents(rawValue: 0x010)
    public static let rdnorm = PollEvents(rawValue: 0x040)
    public static let wrnorm = PollEvents(rawValue: 0x100)

    public var description: String {
        let names: [(PollEvents, String)] = [
            (.in, "POLLIN"), (.pri, "POLLPRI"), (.out, "POLLOUT"), (.err, "POLLERR"), (.hup, "POLLHUP"),
            (.rdnorm, "POLLRDNORM"), (.wrnorm, "POLLWRNORM"),
        ]
        let set = names.filter { contains($0.0) }.map(\.1)
        return set.isEmpty ? "0" : set.joined(separator: "|")
    }
}
