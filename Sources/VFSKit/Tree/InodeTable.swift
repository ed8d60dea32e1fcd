import Synchronization

/// The served vnodes by inode number, in shards: the lookups, `getattr`s and opens of many
/// FUSE workers (each resolves an inode number first) rarely meet on one lock. With one
/// lock, 10,000 callers opening files at once spent a third of the daemon's CPU waiting.
final class InodeTable: Sendable {
    private final class Shard: Sendable {
        let vnodes = Mutex<[UInt64: Vnode]>([:])
    }

    /// Inode numbers are allocated in sequence, so consecutive ones land in different shards.
    private static let shardCount = 64
    private let shards = (0..<InodeTable.shardCount).map { _ in Shard() }

    private func shard(_ ino: UInt64) -> Shard { shards[Int(ino % UInt64(Self.shardCount))] }

    subscript(ino: UInt64) -> Vnode? {
        shard(ino).vnodes.withLock { $0[ino] }
    }

    func insert(_ vnode: Vnode) {
        shard(vnode.ino).vnodes.withLock { $0[vnode.ino] = vnode }
    }

    func remove(_ inos: some Sequence<UInt64>) {
        for ino in inos {
            shard(ino).vnodes.withLock { vnodes in
                vnodes.removeValue(forKey: ino)
                vnodes.shrinkIfSparse()
            }
        }
    }
}
