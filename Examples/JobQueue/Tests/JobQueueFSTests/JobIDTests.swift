import JobQueueFS
import SystemPackage
import Testing
import VFSKit

@Suite struct JobIDTests {
    @Test(arguments: ["1", "42", "9223372036854775807"])
    func canonicalNamesParse(_ name: String) throws {
        #expect(JobID(pathName: name)?.pathName == name)
        #expect(try JobID(fileText: name).fileBytes() == Array((name + "\n").utf8))
    }

    @Test(arguments: ["0", "-1", "+1", "01", "1.0", "x", "", " 1", "99999999999999999999"])
    func otherNamesAreNotJobs(_ name: String) {
        #expect(JobID(pathName: name).map { $0.pathName == name } != true)
        #expect(throws: Errno.invalidArgument) { try JobID(fileText: name) }
    }
}
