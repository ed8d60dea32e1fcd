extension Dictionary {
    /// Gives memory back once most entries are gone: a dictionary keeps its capacity when
    /// entries are removed, so 100,000 children that came and went would leave their table
    /// behind. Rebuilt at a quarter full (O(count), so amortized O(1) per removal).
    package mutating func shrinkIfSparse() {
        guard capacity > 256, count * 4 < capacity else { return }
        var smaller = Dictionary(minimumCapacity: count * 2)
        for (key, value) in self { smaller[key] = value }
        self = smaller
    }
}

extension ContiguousArray {
    /// The same for an array: rebuilt at a quarter full.
    package mutating func shrinkIfSparse() {
        guard capacity > 256, count * 4 < capacity else { return }
        // Not `ContiguousArray(self)`: that shares the buffer, capacity and all.
        var smaller = ContiguousArray()
        smaller.reserveCapacity(count * 2)
        smaller.append(contentsOf: self)
        self = smaller
    }
}
