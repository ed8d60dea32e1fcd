public import SystemPackage

extension Dispatcher {
    /// Up to `limit` entries of a directory after `cookie` (0 = from the start): `.`, `..`,
    /// the declared children in order (conditional ones while present), then the dynamic
    /// entries in insertion order.
    /// Cookies are stable while entries come and go, so a long listing neither skips nor repeats.
    public func readdir(_ ino: UInt64, after cookie: Int64, limit: Int) throws(Errno) -> [DirectoryEntry] {
        let directory: Vnode
        do throws(Errno) { directory = try tree.vnode(ino) } catch { throw answer(error) }
        guard cookie >= 0 else { throw .invalidArgument }
        let children = try tree.declaredChildren(of: directory)
        let (declared, declaredByName, dynamic) = (children.list, children.byName, children.dynamic)
        var entries: [DirectoryEntry] = []
        entries.reserveCapacity(min(limit, 1024))
        let dynamicBase = Int64(declared.count) + 2
        var position = cookie
        while entries.count < limit, position < dynamicBase {
            switch position {
            case 0: entries.append(DirectoryEntry(name: ".", ino: directory.ino, type: .directory, cookie: 1))
            case 1: entries.append(DirectoryEntry(name: "..", ino: directory.parentIno, type: .directory, cookie: 2))
            default:
                var child = declared[Int(position) - 2]
                // A conditional node is listed only while its condition holds.
                if let slot = child.slot {
                    do throws(Errno) { child = try tree.present(slot, in: directory) } catch {
                        position += 1
                        continue
                    }
                }
                entries.append(DirectoryEntry(name: child.node.name, ino: child.ino, type: EntryType(of: child.node), cookie: position + 1))
            }
            position += 1
        }
        guard entries.count < limit, let dynamic else { return entries }
        let cached = directory.dynamicChildren.withLock { $0.inoBySerial }
        let type = children.dynamicType
        var after = UInt64(max(0, position - dynamicBase))
        while entries.count < limit {
            let batch = dynamic.list(after: after, limit: limit - entries.count)
            for (name, serial) in batch.entries {
                // A name a declared sibling shadows cannot be looked up: not listed.
                if !declaredByName.isEmpty, declaredByName[name] != nil { continue }
                let ino = cached.isEmpty ? Self.standInIno(serial) : cached[serial] ?? Self.standInIno(serial)
                entries.append(DirectoryEntry(name: name, ino: ino, type: type, cookie: dynamicBase + Int64(serial)))
            }
            guard let next = batch.resumeAfter else { break }
            after = next
        }
        return entries
    }

    /// The inode number listed for a dynamic entry not looked up yet (lookup assigns its own).
    private static func standInIno(_ serial: UInt64) -> UInt64 { 1 << 62 | serial }
}
