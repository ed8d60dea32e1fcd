import Synchronization
public import VFSKit

/// The GPIO class's state: chips, every line's hardware state, the exported lines, and
/// wires from outputs to inputs. The rules are the kernel's (drivers/gpio/gpiolib-sysfs.c).
public final class GPIOController: Sendable {
    public let chips: [GPIOChip]
    /// One entry per exported line: `gpioN/`.
    public let exported = DynamicEntries<Int, ExportedLine>()
    /// Every line, exported or not, for the control tree.
    public let allLines = DynamicEntries<Int, GPIOChip>()

    private struct State {
        var lines: [Int: GPIOLineState] = [:]
        /// Input line → the output line driving it.
        var wires: [Int: Int] = [:]
    }

    private let state = Mutex(State())

    public init(chips: [GPIOChip]) {
        self.chips = chips
        for chip in chips {
            for line in chip.lines { allLines.insert(chip, for: line) }
        }
    }

    public func chip(of line: Int) -> GPIOChip? { chips.first { $0.lines.contains(line) } }

    // MARK: - export, unexport

    /// `export`: a line no chip has is `EINVAL`, an exported one `EBUSY`.
    public func export(_ line: Int) throws(Errno) {
        guard let chip = chip(of: line) else { throw .invalidArgument }
        guard exported[line] == nil else { throw .resourceBusy }
        exported.insert(ExportedLine(number: line, chip: chip), for: line)
    }

    /// `unexport`: a line not exported is `EINVAL`. Edge and active-low are cleared.
    public func unexport(_ line: Int) throws(Errno) {
        guard chip(of: line) != nil, exported[line] != nil else { throw .invalidArgument }
        state.withLock { state in
            state.lines[line, default: GPIOLineState()].edge = .none
            state.lines[line, default: GPIOLineState()].activeLow = false
        }
        exported.remove(line)
    }

    // MARK: - attributes

    public func direction(of line: Int) -> GPIODirection { state.withLock { $0.lines[line]?.direction ?? .input } }

    /// `direction`: `in`, `out` (low), `high`, `low`; anything else `EINVAL`. A line whose
    /// edge is set (used as an interrupt) cannot become an output: `EIO`.
    public func setDirection(of line: Int, to text: String) throws(Errno) {
        try change { state throws(Errno) in
            var lineState = state.lines[line] ?? GPIOLineState()
            switch text {
            case "in": lineState.direction = .input
            case "out", "low", "high":
                guard lineState.edge == .none else { throw .ioError }
                lineState.direction = .output
                lineState.outputLevel = text == "high"
            default: throw .invalidArgument
            }
            state.lines[line] = lineState
        }
    }

    /// `value`: the logical level (active-low inverts).
    public func value(of line: Int) -> Bool {
        state.withLock { state in Self.level(of: line, in: state) != (state.lines[line]?.activeLow ?? false) }
    }

    /// `value` written: `EPERM` on an input (before the text is looked at), then `kstrtol`.
    public func setValue(of line: Int, text: String) throws(Errno) {
        guard direction(of: line) == .output else { throw .notPermitted }
        let value = try KernelInteger<Int>.parse(text)
        try change { state throws(Errno) in
            guard state.lines[line]?.direction == .output else { throw .notPermitted }
            let activeLow = state.lines[line]?.activeLow ?? false
            state.lines[line, default: GPIOLineState()].outputLevel = (value != 0) != activeLow
        }
    }

    public func edge(of line: Int) -> GPIOEdge { state.withLock { $0.lines[line]?.edge ?? .none } }

    /// `edge`: an output (or a line that cannot interrupt) is `EIO`.
    public func setEdge(of line: Int, to edge: GPIOEdge) throws(Errno) {
        guard chip(of: line)?.canInterrupt == true else { throw .ioError }
        try change { state throws(Errno) in
            if edge != .none, state.lines[line]?.direction == .output { throw .ioError }
            state.lines[line, default: GPIOLineState()].edge = edge
        }
    }

    public func activeLow(of line: Int) -> Bool { state.withLock { $0.lines[line]?.activeLow ?? false } }

    /// `active_low`: `kstrtol`, any non-zero value is true.
    /// (No edge fires: the kernel reconfigures the interrupt for the new polarity.)
    public func setActiveLow(of line: Int, to value: Int) {
        state.withLock { state in state.lines[line, default: GPIOLineState()].activeLow = value != 0 }
    }

    // MARK: - from outside

    /// The level driven into `line` from outside (what a button or a sensor would do).
    public func externalLevel(of line: Int) -> Bool { state.withLock { $0.lines[line]?.externalLevel ?? false } }

    public func drive(_ line: Int, high: Bool) {
        changeInfallibly { state in state.lines[line, default: GPIOLineState()].externalLevel = high }
    }

    /// Wires output `from` to input `to`: `to` then follows `from`'s level. `EINVAL` for
    /// lines no chip has or a line wired to itself; `EBUSY` when `to` is driven already.
    public func wire(_ from: Int, to: Int) throws(Errno) {
        guard chip(of: from) != nil, chip(of: to) != nil, from != to else { throw .invalidArgument }
        try change { state throws(Errno) in
            guard state.wires[to] == nil else { throw .resourceBusy }
            state.wires[to] = from
        }
    }

    /// Removes the wire into `to`; `EINVAL` when there is none.
    public func unwire(_ from: Int, to: Int) throws(Errno) {
        try change { state throws(Errno) in
            guard state.wires[to] == from else { throw .invalidArgument }
            state.wires[to] = nil
        }
    }

    /// `from>to` pairs, in order of the driven line.
    public var wires: [(from: Int, to: Int)] {
        state.withLock { $0.wires.sorted { $0.key < $1.key }.map { (from: $0.value, to: $0.key) } }
    }

    // MARK: - levels and edges

    /// The physical level: an output drives its own; an input follows its wire, else the
    /// level driven from outside.
    private static func level(of line: Int, in state: State, depth: Int = 0) -> Bool {
        let lineState = state.lines[line] ?? GPIOLineState()
        if lineState.direction == .output { return lineState.outputLevel }
        if let from = state.wires[line], depth < 64 { return level(of: from, in: state, depth: depth + 1) }
        return lineState.externalLevel
    }

    /// Applies `body` and then notifies (outside the lock) every exported line whose logical
    /// value made an edge its `edge` selects.
    private func change(_ body: (inout State) throws(Errno) -> Void) throws(Errno) {
        let signals = try state.withLock { state throws(Errno) -> [ChangeSignal] in
            let lines = Set(state.lines.keys).union(state.wires.keys)
            let before = Dictionary(uniqueKeysWithValues: lines.map { ($0, Self.logical($0, in: state)) })
            try body(&state)
            var fired: [ChangeSignal] = []
            for line in exported.keys {
                let lineState = state.lines[line] ?? GPIOLineState()
                guard lineState.direction == .input, lineState.edge != .none else { continue }
                let old = before[line] ?? Self.logical(line, in: State())
                let new = Self.logical(line, in: state)
                guard old != new else { continue }
                let selected = lineState.edge == .both || (lineState.edge == .rising) == new
                if selected, let entry = exported[line] { fired.append(entry.valueChanged) }
            }
            return fired
        }
        for signal in signals { signal.signal() }
    }

    private func changeInfallibly(_ body: (inout State) -> Void) {
        try? change { (state: inout State) throws(Errno) in body(&state) }
    }

    private static func logical(_ line: Int, in state: State) -> Bool {
        level(of: line, in: state) != (state.lines[line]?.activeLow ?? false)
    }
}
