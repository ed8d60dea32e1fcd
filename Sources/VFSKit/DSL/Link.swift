import SystemPackage

/// A symbolic link: `readlink` shows its target, `lstat` a link (`S_IFLNK`, mode 0777, size
/// the target's length), listings `DT_LNK`, and the kernel follows it like any symlink.
///
/// ```swift
/// Link("subsystem", to: "../../gpio", "The class")                   // a fixed target
/// Link("device", "The chip this line belongs to") { "../gpiochip\(line.chip.base)" }   // from state
/// ```
/// A relative target is resolved from the link's directory, as the kernel does. Static
/// targets are checked when the tree is built: a link that leads back to itself through
/// other links (a loop) is rejected.
public struct Link: NodeConvertible {
    private let node: Node

    /// A link with a fixed target.
    public init(_ name: String, to target: String, _ summary: String) {
        node = Node(name: name, kind: .link(LinkTarget(fixed: target)), summary: summary)
    }

    /// A link whose target is computed from state each time it is read (`readlink`, `lstat`).
    /// A throwing `target` answers with its error (an `Errno`, else `EIO`).
    public init(_ name: String, _ summary: String, target: @escaping @Sendable () throws -> String) {
        node = Node(name: name, kind: .link(LinkTarget(computed: target)), summary: summary)
    }

    public var nodes: [Node] { [node] }
}

/// Where a link points: a fixed path, or one computed from state.
struct LinkTarget: Sendable {
    /// The fixed target, if any (the validator follows these).
    let fixed: String?
    private let compute: @Sendable () throws(Errno) -> String

    init(fixed: String) {
        self.fixed = fixed
        compute = { fixed }
    }

    init(computed: @escaping @Sendable () throws -> String) {
        fixed = nil
        compute = { () throws(Errno) in
            do { return try computed() } catch { throw Errno(handlerError: error) }
        }
    }

    /// The target now; `EIO` when a computed one is not a usable path (empty, NUL, over PATH_MAX).
    func resolve() throws(Errno) -> String {
        let target = try compute()
        guard !target.isEmpty, target.utf8.count < 4096, !target.utf8.contains(0) else { throw .ioError }
        return target
    }
}
