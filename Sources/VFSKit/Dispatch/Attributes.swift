/// What `stat` shows for a node, and how long the kernel may cache it.
public struct Attributes: Sendable, Equatable {
    public var ino: UInt64
    /// `st_mode`: file type bits and permissions.
    public var mode: UInt32
    public var nlink: UInt32
    public var uid: UInt32
    public var gid: UInt32
    public var size: Int64
    /// Seconds since the epoch, for atime, mtime and ctime.
    public var seconds: Int64
    /// Entry cache timeout in seconds: how long the kernel may take the name to mean this
    /// node without asking. 0 for a node whose existence changes on its own (a dynamic entry,
    /// a conditional node), whose removal the kernel must see at once.
    public var timeout: Double
    /// Attribute cache timeout in seconds. A node's attributes change only through
    /// `chmod`/`chown` (whose answer updates the kernel's copy) or when it goes (then the
    /// driver makes the kernel drop them), so they may be cached; 0 only for a link whose
    /// target is computed from state (its size is the target's length).
    public var attributeTimeout: Double

    public var isDirectory: Bool { mode & 0o170000 == 0o040000 }
    /// A symbolic link (`S_IFLNK`).
    public var isSymlink: Bool { mode & 0o170000 == 0o120000 }
    public var permissions: UInt16 { UInt16(mode & 0o7777) }
}

/// What a directory entry is, as `readdir` reports it (`DT_DIR`, `DT_REG`, `DT_LNK`).
public enum EntryType: Sendable, Hashable {
    case directory, file, symlink

    init(of node: Node) {
        switch node.kind {
        case .directory, .dynamic: self = .directory
        case .file: self = .file
        case .link: self = .symlink
        }
    }
}

/// One entry of a directory listing.
public struct DirectoryEntry: Sendable, Equatable {
    public var name: String
    /// The entry's inode number; for dynamic entries not looked up yet, a stand-in.
    public var ino: UInt64
    public var type: EntryType
    /// The offset that resumes the listing after this entry.
    public var cookie: Int64

    public var isDirectory: Bool { type == .directory }
}
