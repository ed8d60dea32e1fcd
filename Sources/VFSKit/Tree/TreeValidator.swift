/// A declaration that cannot be served, found when the tree is built.
public struct TreeValidationError: Error, CustomStringConvertible {
    public let path: String
    public let problem: String
    public var description: String { "invalid tree at \(path): \(problem)" }
}

/// Rejects malformed declarations before they are served: bad or duplicate names, files
/// that neither read nor write, a poll without a read, two `ForEach` in one directory, a
/// malformed `ForEach`, a condition without a signal, a conditional node whose condition
/// reads the request, links with an empty target or in a loop of links.
enum TreeValidator {
    static func validate(_ tree: Tree) throws(TreeValidationError) {
        var links = LinkMap()
        try validate(tree.content, at: "/", links: &links)
        try links.checkLoops()
    }

    static func validate(_ nodes: [Node], at path: String) throws(TreeValidationError) {
        var links = LinkMap()
        try validate(nodes, at: path, links: &links)
        try links.checkLoops()
    }

    private static func validate(_ nodes: [Node], at path: String, links: inout LinkMap) throws(TreeValidationError) {
        var seen = Set<String>()
        var dynamicCount = 0
        for node in nodes {
            let nodePath = path == "/" ? "/" + node.name : path + "/" + node.name
            links.add(node, at: nodePath)
            if let presence = node.presence {
                if presence.condition.stateHolds == nil {
                    throw TreeValidationError(
                        path: nodePath, problem: "a conditional node needs a condition over state, not the request")
                }
                if !presence.condition.hasSignal {
                    throw TreeValidationError(path: nodePath, problem: "a conditional node without a condition signal")
                }
            }
            switch node.kind {
            case .dynamic(let source):
                dynamicCount += 1
                if dynamicCount > 1 {
                    throw TreeValidationError(path: path, problem: "more than one ForEach in a directory")
                }
                if let problem = source.problem { throw TreeValidationError(path: nodePath, problem: problem) }
                let example = source.exampleNode()
                if case .directory(let content) = example.kind {
                    try validate(content.children, at: nodePath, links: &links)
                } else {
                    try validate([example], at: path, links: &links)
                }
                continue
            case .file(let behavior):
                if behavior.reader == nil && behavior.writer == nil {
                    throw TreeValidationError(path: nodePath, problem: "a file needs a read or a write handler")
                }
                if behavior.poll != nil && behavior.reader == nil {
                    throw TreeValidationError(path: nodePath, problem: "poll declared without a read handler")
                }
                if let limit = behavior.writeLimit, limit < 1 {
                    throw TreeValidationError(path: nodePath, problem: "write limit must be at least 1 byte")
                }
                if behavior.conditions.contains(where: { !$0.hasSignal }) {
                    throw TreeValidationError(path: nodePath, problem: "a condition without a signal")
                }
            case .directory(let content):
                try validate(content.children, at: nodePath, links: &links)
            case .link(let target):
                if target.fixed?.isEmpty == true {
                    throw TreeValidationError(path: nodePath, problem: "a link needs a target")
                }
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

/// The declared nodes by path (dynamic entries under their placeholder), to follow fixed
/// link targets through the declarations as the kernel would follow them.
struct LinkMap {
    private var nodes: [String: Node] = [:]
    private var links: [(path: String, target: String)] = []

    mutating func add(_ node: Node, at path: String) {
        nodes[path] = node
        if case .link(let target) = node.kind, let fixed = target.fixed { links.append((path, fixed)) }
    }

    /// Rejects a fixed link that leads back to a link already on its way (`ELOOP`).
    func checkLoops() throws(TreeValidationError) {
        for link in links {
            var visited: [String] = [link.path]
            var current = link
            while let next = follow(current.target, from: current.path) {
                if visited.contains(next.path) {
                    throw TreeValidationError(
                        path: link.path, problem: "a link loop: \((visited + [next.path]).joined(separator: " -> "))")
                }
                visited.append(next.path)
                current = next
            }
        }
    }

    /// The fixed link a target of the link at `path` ends on (after the directories on its
    /// way); nil when it ends on a non-link, leaves the tree or names nothing declared.
    private func follow(_ target: String, from path: String) -> (path: String, target: String)? {
        guard !target.hasPrefix("/") else { return nil }  // absolute: outside the tree as mounted
        var components = path.split(separator: "/").dropLast().map(String.init)
        var rest = target.split(separator: "/").map(String.init)[...]
        var hops = 0
        while let component = rest.popFirst() {
            switch component {
            case ".": continue
            case "..":
                guard !components.isEmpty else { return nil }
                components.removeLast()
            default:
                components.append(component)
                let resolved = "/" + components.joined(separator: "/")
                guard let node = nodes[resolved] else { return nil }
                if case .link(let inner) = node.kind {
                    guard let fixed = inner.fixed else { return nil }
                    if rest.isEmpty { return (resolved, fixed) }
                    // A link in the middle of the path: follow it first.
                    hops += 1
                    if hops > 40 { return (resolved, fixed) }
                    components.removeLast()
                    if fixed.hasPrefix("/") { return nil }
                    rest = (fixed.split(separator: "/").map(String.init) + rest)[...]
                }
            }
        }
        return nil
    }
}
