/// How a tree is mounted. `default_permissions` (the kernel checks modes) and
/// `auto_unmount` (a crashed server leaves no dead mount behind) are always on.
public struct FUSEMountOptions: Sendable, Equatable {
    /// Let users other than the one who mounted use the tree (`allow_other`;
    /// non-root servers need `user_allow_other` in /etc/fuse.conf).
    public var allowOther: Bool
    /// The source column of /proc/mounts.
    public var fsname: String
    /// Shown as the type `fuse.<subtype>` in /proc/mounts.
    public var subtype: String
    /// libfuse's worker-thread limit; requests that block do not hold a worker.
    public var maxThreads: Int

    public init(allowOther: Bool = false, fsname: String = "vfskit", subtype: String = "vfskit", maxThreads: Int = 10) {
        self.allowOther = allowOther
        self.fsname = fsname
        self.subtype = subtype
        self.maxThreads = maxThreads
    }

    /// The `-o` argument handed to libfuse.
    var optionString: String {
        var list = ["fsname=\(Self.escaped(fsname))", "subtype=\(Self.escaped(subtype))", "default_permissions", "auto_unmount"]
        if allowOther { list.append("allow_other") }
        return list.joined(separator: ",")
    }

    /// libfuse splits options on `,` and treats `\` as an escape.
    private static func escaped(_ value: String) -> String {
        var out = ""
        for character in value {
            if character == "," || character == "\\" { out.append("\\") }
            out.append(character)
        }
        return out
    }
}
