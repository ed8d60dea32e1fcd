import Synchronization

/// One open of a file: its flags, the rendering that later offsets continue,
/// poll bookkeeping, and storage that handlers may use for this open.
public final class OpenFile: Sendable {
    struct State {
        /// The value rendered by the last read at offset 0.
        var rendering: [UInt8]?
        /// The signal count this open last saw (sysfs-style change polling).
        var seenCount: UInt64 = 0
        var poll = PollRegistration()
        var storage: [ObjectIdentifier: any Sendable] = [:]
    }

    struct PollRegistration {
        var waker: (any PollWaker)?
        var reported: PollEvents = []
        var caller: Caller?
        var observed: (signal: ChangeSignal, id: UInt64)?
        /// The death handler by which the removal of the file's dynamic entry wakes the
        /// registration; forgotten on release, so closed files leave nothing on the entry.
        var removalWatch: UInt64?
    }

    /// Unique while the tree is served.
    public let id: UInt64
    /// The `open(2)` flags.
    public let flags: Int32
    let vnode: Vnode
    let behavior: FileBehavior
    /// How written bytes are read: the file's rule, else the tree profile's.
    let textRule: WrittenText.Rule
    let state: Mutex<State>

    init(id: UInt64, flags: Int32, vnode: Vnode, behavior: FileBehavior, seenCount: UInt64, textRule: WrittenText.Rule) {
        self.id = id
        self.flags = flags
        self.vnode = vnode
        self.behavior = behavior
        self.textRule = textRule
        state = Mutex(State(seenCount: seenCount))
    }

    /// Opened for writing (`O_WRONLY` or `O_RDWR`).
    public var isWritable: Bool { flags & 0o3 != 0 }
    /// Opened for reading (`O_RDONLY` or `O_RDWR`).
    public var isReadable: Bool { flags & 0o3 != 0o1 }
    /// Opened `O_NONBLOCK`.
    public var isNonBlocking: Bool { flags & 0o4000 != 0 }

    /// Per-open storage for handlers, keyed by a type.
    public subscript<Key: OpenFileStorageKey>(key: Key.Type) -> Key.Value? {
        get { state.withLock { $0.storage[ObjectIdentifier(key)] as? Key.Value } }
        set { state.withLock { $0.storage[ObjectIdentifier(key)] = newValue } }
    }
}

/// A typed key for `OpenFile` storage.
public protocol OpenFileStorageKey {
    associatedtype Value: Sendable
}
