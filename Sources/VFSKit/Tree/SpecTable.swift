/// One row of the spec table a tree generates from its declarations.
public struct SpecRow: Sendable, Equatable {
    /// The path, with placeholders such as `<uuid>` for dynamic parts; directories end in `/`.
    public var path: String
    /// `dir 0555`, `file 0666` or `link 0777`; `, conditional` for a node that exists only
    /// while a condition holds.
    public var mode: String
    public var read: String
    public var write: String
    public var poll: String
    /// The value types read and written, e.g. `uuid?` or `integer / any`.
    public var type: String
    public var description: String

    /// The cells in column order, as Markdown: `|` is escaped so that it does not end a cell.
    public var cells: [String] {
        ["`\(path)`", mode, read, write, poll, type, description].map { $0.replacing("|", with: "\\|") }
    }
}

extension Tree {
    /// Every declared node, depth first in declaration order.
    public var specRows: [SpecRow] {
        var rows: [SpecRow] = []
        Self.walk(root, path: "/", profile: profile, into: &rows)
        return rows
    }

    /// The spec table as Markdown: path, mode, read, write, poll, type, description.
    public var specTable: String {
        let header = "| path | mode | read | write | poll | type | description |\n|---|---|---|---|---|---|---|\n"
        return header + specRows.map { "| " + $0.cells.joined(separator: " | ") + " |\n" }.joined()
    }

    private static func walk(_ node: Node, path: String, profile: TreeProfile, into rows: inout [SpecRow]) {
        let none = "—"
        let conditional = node.presence == nil ? "" : ", conditional"
        let mode = octal(node.effectivePermissions(in: profile)) + conditional
        switch node.kind {
        case .file(let behavior):
            let types = [behavior.reader?.typeName, behavior.writer?.typeName].map { $0 ?? none }
            rows.append(
                SpecRow(
                    path: path, mode: "file " + mode,
                    read: behavior.reader?.help ?? none, write: behavior.writer?.help ?? none,
                    poll: behavior.poll?.help ?? none, type: types.joined(separator: " / "), description: node.summary))
        case .link(let target):
            rows.append(
                SpecRow(
                    path: path, mode: "link " + mode, read: "-> " + (target.fixed ?? "(computed)"), write: none, poll: none,
                    type: none, description: node.summary))
        case .directory(let content):
            directoryRows(path: path, mode: mode, summary: node.summary, children: content.children, profile: profile, into: &rows)
        case .dynamic(let source):
            let example = source.exampleNode()
            if case .directory(let content) = example.kind {
                directoryRows(
                    path: path, mode: octal(example.effectivePermissions(in: profile)), summary: example.summary,
                    children: content.children, profile: profile, into: &rows)
            } else {
                walk(example, path: path, profile: profile, into: &rows)
            }
        }
    }

    private static func directoryRows(
        path: String, mode: String, summary: String, children: [Node], profile: TreeProfile, into rows: inout [SpecRow]
    ) {
        let directoryPath = path == "/" ? "/" : path + "/"
        var listing: [String] = []
        for child in children {
            if case .dynamic(let source) = child.kind {
                listing.append(source.summary)
            } else {
                listing.append("`\(child.name)`")
            }
        }
        rows.append(
            SpecRow(
                path: directoryPath, mode: "dir " + mode, read: listing.joined(separator: ", "),
                write: "—", poll: "—", type: "—", description: summary))
        for child in children {
            walk(child, path: directoryPath + child.name, profile: profile, into: &rows)
        }
    }

    private static func octal(_ permissions: UInt16) -> String {
        let digits = String(permissions, radix: 8)
        return String(repeating: "0", count: max(0, 4 - digits.count)) + digits
    }
}
