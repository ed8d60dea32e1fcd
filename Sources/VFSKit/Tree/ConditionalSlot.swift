import Synchronization
import SystemPackage

/// A conditional node of a served directory (``NodeConvertible/present(while:)``): the vnode
/// of its current incarnation, made when it is looked up while its condition holds, and
/// killed (its handles answer the profile's errno) when the condition stops holding.
final class ConditionalSlot: Sendable {
    let node: Node
    let presence: Presence
    let current = Mutex<Vnode?>(nil)

    init(node: Node) {
        self.node = node
        presence = node.presence!
    }
}

extension ServedTree {
    /// The conditional node's live vnode; `ENOENT` while its condition does not hold.
    func present(_ slot: ConditionalSlot, in directory: Vnode) throws(Errno) -> Vnode {
        guard slot.presence.holds else { throw .noSuchFileOrDirectory }
        let (vnode, made) = slot.current.withLock { current -> (Vnode, Bool) in
            if let live = current, live.isLive { return (live, false) }
            let vnode = makeVnode(parent: directory, node: slot.node, token: EntryToken(parent: directory.token))
            current = vnode
            return (vnode, true)
        }
        if made { recordNodes([vnode]) }
        // It may have gone between the check and the vnode: then this incarnation is over.
        if made, !slot.presence.holds { retire(slot, in: directory) }
        return vnode
    }

    /// Watches the condition's signal for as long as the directory lives.
    func watch(_ slot: ConditionalSlot, in directory: Vnode) {
        guard let signal = slot.presence.condition.stateSignal else { return }
        let id = signal.addObserver { [weak self, weak directory] in
            guard let self, let directory, !slot.presence.holds else { return }
            self.retire(slot, in: directory)
        }
        directory.token?.onDeath { signal.removeObserver(id) }
    }

    /// Ends the current incarnation: its handles answer the profile's errno, and the kernel
    /// forgets the name.
    private func retire(_ slot: ConditionalSlot, in directory: Vnode) {
        guard let gone = slot.current.withLock({ $0.take() }) else { return }
        gone.token?.kill()
        bury(Self.subtree(of: gone))
        if directory.isLive { notifyRemoved(directory.ino, slot.node.name) }
    }
}
