/// The choices VFSKit makes for every file of a tree, set once per tree: default modes, how
/// written text is read, which errno answers a handle whose entry is gone or a write over
/// the limit, and which poll events files report.
///
/// ```swift
/// Tree("GPIO", profile: .sysfs) { … }     // 0644/0444/0200 files, ENODEV, E2BIG, kernfs poll
/// ```
/// ``TreeProfile/standard`` is VFSKit's own behaviour (what ukp's SPEC.md describes); per-node
/// declarations (`permissions:`, ``File/writeLimit(_:)``, ``File/writtenText(_:)``,
/// ``Readiness/reporting(ready:idle:)``) override it.
public struct TreeProfile: Sendable, Equatable {
    /// A file with a read and a write handler.
    public var readWriteMode: UInt16
    /// A file with only a read handler.
    public var readOnlyMode: UInt16
    /// A file with only a write handler.
    public var writeOnlyMode: UInt16
    /// Declared directories and the directories of a `ForEach`.
    public var directoryMode: UInt16
    /// How written bytes become the text a value parses.
    public var writtenText: WrittenText.Rule
    /// What a handle (or an inode number) answers once its entry is gone: a removed dynamic
    /// entry, a conditional node whose condition stopped holding.
    public var removedEntryErrno: Errno
    /// What a write longer than the file's limit answers.
    public var overLimitErrno: Errno
    /// The longest accepted write, unless a file declares its own.
    public var writeLimit: Int
    /// The poll events of files.
    public var poll: PollConvention

    public init(
        readWriteMode: UInt16, readOnlyMode: UInt16, writeOnlyMode: UInt16, directoryMode: UInt16,
        writtenText: WrittenText.Rule, removedEntryErrno: Errno, overLimitErrno: Errno, writeLimit: Int = 4096,
        poll: PollConvention
    ) {
        self.readWriteMode = readWriteMode
        self.readOnlyMode = readOnlyMode
        self.writeOnlyMode = writeOnlyMode
        self.directoryMode = directoryMode
        self.writtenText = writtenText
        self.removedEntryErrno = removedEntryErrno
        self.overLimitErrno = overLimitErrno
        self.writeLimit = writeLimit
        self.poll = poll
    }

    /// VFSKit's defaults (ukp, SPEC.md): files 0666/0444/0222, directories 0555; trailing
    /// whitespace trimmed; `ESTALE` under a removed entry; `EINVAL` over 4096 bytes;
    /// `POLLPRI|POLLIN` after a change, nothing before; undeclared files `POLLIN` (and
    /// `POLLOUT` when writable).
    public static let standard = TreeProfile(
        readWriteMode: 0o666, readOnlyMode: 0o444, writeOnlyMode: 0o222, directoryMode: 0o555,
        writtenText: .trimmingTrailingWhitespace, removedEntryErrno: .staleNFSFileHandle,
        overLimitErrno: .invalidArgument, poll: .standard)

    /// sysfs (kernfs): `DEVICE_ATTR_RW` 0644, `_RO` 0444, `_WO` 0200, directories 0755;
    /// exactly one trailing `\n` ignored (`sysfs_streq`); `ENODEV` on a removed object's
    /// attributes; `E2BIG` above `PAGE_SIZE`; every file `POLLIN|POLLOUT|POLLRDNORM|POLLWRNORM`,
    /// plus `POLLERR|POLLPRI` after a change (`kernfs_fop_poll`).
    public static let sysfs = TreeProfile(
        readWriteMode: 0o644, readOnlyMode: 0o444, writeOnlyMode: 0o200, directoryMode: 0o755,
        writtenText: .strippingOneNewline, removedEntryErrno: .operationNotSupportedByDevice,
        overLimitErrno: .argListTooLong, poll: .kernfs)

    /// The mode of a file with these handlers.
    func fileMode(readable: Bool, writable: Bool) -> UInt16 {
        switch (readable, writable) {
        case (true, true): readWriteMode
        case (true, false): readOnlyMode
        case (false, true): writeOnlyMode
        case (false, false): 0
        }
    }
}

/// Which `poll(2)` events files report: `always` whatever happens, plus `changed` once a
/// `.changes` file's signal fired since the open file last read at offset 0.
public struct PollConvention: Sendable, Equatable {
    /// Reported by every file at all times; nil: a file reports `POLLIN` if readable and
    /// `POLLOUT` if writable, and a file with declared readiness only what it declares.
    public var always: PollEvents?
    /// Added by a `.changes` file after a change.
    public var changed: PollEvents

    public init(always: PollEvents?, changed: PollEvents) {
        self.always = always
        self.changed = changed
    }

    /// VFSKit's own: `POLLPRI|POLLIN` after a change.
    public static let standard = PollConvention(always: nil, changed: [.pri, .in])
    /// kernfs: `POLLIN|POLLOUT|POLLRDNORM|POLLWRNORM` always, `POLLERR|POLLPRI` after a change.
    public static let kernfs = PollConvention(always: [.in, .out, .rdnorm, .wrnorm], changed: [.err, .pri])
}
