/// What a directory entry may be called.
enum FileName {
    /// A name one directory entry can have: not empty, `.` or `..`, no `/` or NUL, at most 255 bytes.
    static func isValid(_ name: String) -> Bool {
        !(name.isEmpty || name == "." || name == ".." || name.utf8.count > 255 || name.utf8.contains(0x2f)
            || name.utf8.contains(0))
    }
}
