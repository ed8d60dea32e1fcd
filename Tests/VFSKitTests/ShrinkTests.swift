import Testing

@testable import VFSKit

/// Tables give their room back once most entries are gone (100,000 children that came and
/// went must not leave 100,000 children's worth of table behind).
@Suite struct ShrinkTests {
    @Test func aDictionaryShrinksAtAQuarterFull() {
        var table: [Int: Int] = [:]
        for key in 0..<100_000 { table[key] = key }
        let full = table.capacity
        for key in 0..<99_000 {
            table.removeValue(forKey: key)
            table.shrinkIfSparse()
        }
        #expect(table.count == 1000)
        #expect(table.capacity < full / 16, "capacity \(table.capacity) of \(full)")
        #expect(table[99_500] == 99_500)
    }

    @Test func aContiguousArrayShrinksAtAQuarterFull() {
        var array = ContiguousArray(0..<100_000)
        let full = array.capacity
        array.removeLast(99_000)
        array.shrinkIfSparse()
        #expect(array.capacity < full / 16, "capacity \(array.capacity) of \(full): the buffer was kept")
        #expect(Array(array) == Array(0..<1000))
    }

    @Test func aSmallTableIsLeftAlone() {
        var array = ContiguousArray(0..<200)
        array.removeLast(190)
        let capacity = array.capacity
        array.shrinkIfSparse()
        #expect(array.capacity == capacity)
    }
}
