import Synchronization
import SystemPackage
import VFSKit

/// Releases every blocked writer at once; a writer cancelled by the kernel's
/// interrupt leaves without changing anything.
final class Gate: Sendable {
    private struct State {
        var isOpen = false
        var nextID: UInt64 = 0
        var waiters: [UInt64: CheckedContinuation<Void, Never>] = [:]
    }

    private let state = Mutex(State())
    let changed = ChangeSignal()

    var isOpen: Bool { state.withLock { $0.isOpen } }
    var waiting: Int { state.withLock { $0.waiters.count } }

    func wait() async throws(Errno) {
        let id = state.withLock { state -> UInt64? in
            if state.isOpen { return nil }
            state.nextID += 1
            return state.nextID
        }
        guard let id else { return }
        await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                let resumeNow = state.withLock { state -> Bool in
                    if state.isOpen || Task.isCancelled { return true }
                    state.waiters[id] = continuation
                    return false
                }
                if resumeNow { continuation.resume() }
            }
        } onCancel: {
            state.withLock { $0.waiters.removeValue(forKey: id) }?.resume()
        }
        if !isOpen { throw .interrupted }
    }

    func open() {
        let waiters = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            state.isOpen = true
            defer { state.waiters = [:] }
            return Array(state.waiters.values)
        }
        for waiter in waiters { waiter.resume() }
        changed.signal()
    }
}

/// A value with a change signal, like a child's status.
final class Observed<Value: Sendable>: Sendable {
    private let value: Mutex<Value>
    let changed = ChangeSignal()

    init(_ value: Value) { self.value = Mutex(value) }

    var current: Value { value.withLock { $0 } }

    func set(_ newValue: Value) {
        value.withLock { $0 = newValue }
        changed.signal()
    }
}

/// The tree the kernel tests mount: sysfs-style files with blocking writes,
/// poll, a dynamic directory, and control files the clients drive.
struct KernelTestTree: Sendable {
    let gate = Gate()
    let status = Observed("Running")
    let note = Observed("")
    let items = DynamicEntries<String, Int>()

    var tree: Tree {
        let gate = gate
        let status = status
        let note = note
        let items = items
        return Tree("kernel test tree") {
            File("status", "a state name").read("state") { _ in status.current }
                .poll("POLLPRI|POLLIN on change", .changes { _ in status.changed })
            File("set_status", "changes status").write(String.self, "a state name") { _, value in status.set(value) }
            File("wait", "blocks writers until released")
                .write(Ignored.self, "blocks until release") { _, _ throws(Errno) in try await gate.wait() }
                .read("0 once released") { context throws(Errno) -> Int? in
                    if gate.isOpen { return 0 }
                    if context.isNonBlocking { throw .resourceTemporarilyUnavailable }
                    return nil
                }
                .poll("POLLIN once released", .readable(when: { _ in gate.isOpen }, signalledBy: { _ in gate.changed }))
            File("release", "releases every waiter").write(Ignored.self, "anything") { _, _ in gate.open() }
            File("waiting", "blocked writers").read("count") { _ in gate.waiting }
            File("note", "stores text").read("text") { _ in note.current }
                .write(String.self, "text") { _, value in note.set(value) }
            File("remove", "removes an item").write(String.self, "item name") { _, name in items.remove(name) }
            Directory("items", "dynamic entries") {
                ForEach(items, "one directory per item") { item in
                    File("value", "the item's value").read("integer") { _ throws(Errno) in try item.value }
                }
            }
        }
    }
}
