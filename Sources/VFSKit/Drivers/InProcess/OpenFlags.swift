/// `open(2)` flags as Linux defines them, for `InProcessDriver.open`.
public enum OpenFlags {
    public static let readOnly: Int32 = 0
    public static let writeOnly: Int32 = 0o1
    public static let readWrite: Int32 = 0o2
    public static let truncate: Int32 = 0o1000
    public static let nonBlocking: Int32 = 0o4000
}
