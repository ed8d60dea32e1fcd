/// A declaration that cannot be served, found when the tree is built.
public struct TreeValidationError: Error, CustomStringConvertible {
    public let path: String
    public let problem: String
    public var description: String { "invalid tree at \(path): \(problem)" }
}

/// Rejects malformed declarations before they are served: bad or duplicate names,
/// files that neither read nor write, a poll without a read, two `ForEach` in one directory.
enum TreeValidator {
    static func validate(_ nodes: [Node], at path: String) throws(TreeValidationError) {
        var seen = Set<String>()
        var dynamicCount = 0
        for node in nodes {
            let nodePath = path == "/" ? "/" + node.name : path + "/" + node.name
            switch node.kind {
            case .dynamic(let source):
                dynamicCount += 1
                if dynamicCount > 1 {
                    throw TreeValidationError(path: path, problem: "more than one ForEach in a directory")
                }
                try validate(source.exampleContent(), at: nodePath)
                continue
            case .file(let behavior):
                if behavior.reader == nil && behavior.writer == nil {
                    throw TreeValidationError(path: nodePath, problem: "a file needs a read or a write handler")
                }
                if behavior.poll != nil && behavior.reader == nil {
                    throw TreeValidationError(path: nodePath, problem: "poll declared without a read handler")
                }
                if behavior.writeLimit < 1 {
                    throw TreeValidationError(path: nodePath, problem: "write limit must be at least 1 byte")
                }
            case .directory(let content):
                try validate(content.children, at: nodePath)
            }
            try validateName(node.name, at: nodePath)
            if !seen.insert(node.name).inserted {
                throw TreeValidationError(path: nodePath, problem: "duplicate name")
            }
        }
    }

    private static func validateName(_ name: String, at path: String) throws(TreeValidationError) {
        guard FileName.isValid(name) else {
            throw TreeValidationError(path: path, problem: "\"\(name)\" is not a valid file name")
        }
    }
}
