import Testing

@testable import LibUKP

@Suite struct InstanceStateTests {
    @Test(arguments: [
        (InstanceState.stopped, "Stopped", 0),
        (.starting, "Starting", 1),
        (.running, "Running", 2),
        (.draining, "Draining", 3),
        (.stopping, "Stopping", 4),
        (.template, "Template", 5),
    ])
    func namesAndCodes(state: InstanceState, name: String, code: Int) {
        #expect(state.rawValue == name)
        #expect(state.code == code)
        #expect(InstanceState(rawValue: name) == state)
        #expect(InstanceState(code: code) == state)
    }

    @Test func unknownNamesAndCodes() {
        #expect(InstanceState(rawValue: "running") == nil)
        #expect(InstanceState(code: 6) == nil)
        #expect(InstanceState(code: -1) == nil)
    }
}
