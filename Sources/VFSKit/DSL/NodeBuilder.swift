/// Collects `File`, `Directory` and `ForEach` declarations into a flat list of nodes.
@resultBuilder
public enum NodeBuilder {
    public static func buildExpression(_ expression: some NodeConvertible) -> [Node] { expression.nodes }
    public static func buildExpression(_ expression: [Node]) -> [Node] { expression }
    public static func buildBlock(_ components: [Node]...) -> [Node] { components.flatMap { $0 } }
    public static func buildArray(_ components: [[Node]]) -> [Node] { components.flatMap { $0 } }
    public static func buildOptional(_ component: [Node]?) -> [Node] { component ?? [] }
    public static func buildEither(first component: [Node]) -> [Node] { component }
    public static func buildEither(second component: [Node]) -> [Node] { component }
}
