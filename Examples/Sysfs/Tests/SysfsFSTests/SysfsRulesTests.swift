import SysfsFS
import Testing
import VFSKit

/// The kernel's rules for the GPIO, LED and PWM classes, on the in-process driver.
@Suite("sysfs rules", .timeLimit(.minutes(1)))
struct SysfsRulesTests {
    let machine = SysfsMachine.demo()
    let driver: InProcessDriver

    init() throws {
        driver = try InProcessDriver(machine.tree)
    }

    func write(_ path: String, _ text: String) async -> Errno? {
        do throws(Errno) {
            let handle = try driver.open(path, flags: OpenFlags.writeOnly)
            defer { driver.close(handle) }
            try await driver.write(handle, Array(text.utf8))
            return nil
        } catch {
            return error
        }
    }

    func read(_ path: String) async throws -> String { try await driver.readText(path) }

    @Test func exportAndUnexportAnswerAsGpiolibSysfs() async throws {
        let gpio = "/class/gpio"
        #expect(await write("\(gpio)/export", "17\n") == nil)
        #expect(try driver.list(gpio) == ["export", "unexport", "gpiochip0", "gpiochip32", "gpio17"])
        #expect(await write("\(gpio)/export", "0x11") == .resourceBusy, "exported already (kstrtol base 0: 0x11 is 17)")
        #expect(await write("\(gpio)/export", "40") == .invalidArgument, "no chip has line 40")
        #expect(await write("\(gpio)/export", "99999999999999999999") == .outOfRange)
        #expect(await write("\(gpio)/export", "17\n\n") == .invalidArgument, "one trailing newline only")
        #expect(await write("\(gpio)/unexport", "18") == .invalidArgument, "not exported")
        #expect(try driver.readlink("\(gpio)/gpio17/device") == "../gpiochip0")
        #expect(try await read("\(gpio)/gpio17/device/label") == "sysfs-fuse-a\n", "followed through the link")
        #expect(await write("\(gpio)/unexport", "17") == nil)
        #expect(throws: Errno.noSuchFileOrDirectory) { try driver.stat("\(gpio)/gpio17") }
        #expect(driver.leftovers.isEmpty)
    }

    @Test func valueAndDirectionAndEdge() async throws {
        #expect(await write("/class/gpio/export", "5") == nil)
        let line = "/class/gpio/gpio5"
        #expect(try await read("\(line)/direction") == "in\n")
        #expect(await write("\(line)/value", "garbage") == .notPermitted, "an input: EPERM before the text is read")
        #expect(await write("\(line)/direction", "sideways") == .invalidArgument)
        #expect(await write("\(line)/edge", "rising") == nil)
        #expect(await write("\(line)/direction", "out") == .ioError, "used as an interrupt")
        #expect(await write("\(line)/edge", "none") == nil)
        #expect(await write("\(line)/direction", "high") == nil)
        #expect(try await read("\(line)/value") == "1\n")
        #expect(await write("\(line)/edge", "both") == .ioError, "an output cannot interrupt")
        #expect(await write("\(line)/active_low", "1") == nil)
        #expect(try await read("\(line)/value") == "0\n", "inverted")
        #expect(await write("\(line)/value", "0x0") == nil)
        #expect(try await read("\(line)/value") == "0\n", "a logical 0 (the line driven high)")
        #expect(await write("\(line)/value", "2x") == .invalidArgument)
        #expect(await write("/class/gpio/export", "33") == nil)
        #expect(try driver.list("/class/gpio/gpio33").contains("edge") == false, "a line that cannot interrupt")
    }

    @Test func anEdgeWakesValuePollersWithKernfsEvents() async throws {
        #expect(await write("/class/gpio/export", "3") == nil)
        #expect(await write("/class/gpio/gpio3/edge", "falling") == nil)
        let value = try driver.open("/class/gpio/gpio3/value")
        defer { driver.close(value) }
        let idle: PollEvents = [.in, .out, .rdnorm, .wrnorm]
        #expect(try driver.poll(value) == idle)
        #expect(await write("/control/gpio/line3/input", "1") == nil)
        #expect(try driver.poll(value) == idle, "a rising edge is not selected")
        async let woken = driver.waitUntilReady(value, for: [.pri, .err])
        #expect(await write("/control/gpio/line3/input", "0") == nil)
        #expect(try await woken == idle.union([.err, .pri]))
        #expect(try await driver.read(value) == Array("0\n".utf8))
        #expect(try driver.poll(value) == idle, "reading at offset 0 re-arms")
    }

    @Test func wiresCarryAnOutputToAnInput() async throws {
        for line in ["20", "21"] { #expect(await write("/class/gpio/export", line) == nil) }
        #expect(await write("/class/gpio/gpio20/direction", "out") == nil)
        #expect(await write("/control/wire", "20 21") == nil)
        #expect(await write("/control/wire", "22 21") == .resourceBusy)
        #expect(try await read("/control/wires") == "20>21\n")
        #expect(await write("/class/gpio/gpio20/value", "1") == nil)
        #expect(try await read("/class/gpio/gpio21/value") == "1\n")
        #expect(await write("/control/unwire", "20 21") == nil)
        #expect(try await read("/class/gpio/gpio21/value") == "0\n")
    }

    @Test func ledTimerTriggerBringsDelaysThatGoWithIt() async throws {
        let led = "/class/leds/sysfs-fuse:green:status"
        #expect(await write("\(led)/brightness", "0x10") == .invalidArgument, "kstrtoul base 10")
        #expect(await write("\(led)/brightness", "300") == nil)
        #expect(try await read("\(led)/brightness") == "255\n", "clamped to max_brightness")
        #expect(try !driver.list(led).contains("delay_on"))
        #expect(throws: Errno.noSuchFileOrDirectory) { try driver.stat("\(led)/delay_on") }
        #expect(await write("\(led)/trigger", "disco") == .invalidArgument)
        #expect(await write("\(led)/trigger", "timer") == nil)
        #expect(try await read("\(led)/trigger") == "none [timer] default-on\n")
        #expect(try driver.list(led) == ["brightness", "max_brightness", "trigger", "delay_on", "delay_off", "subsystem"])
        let delay = try driver.open("\(led)/delay_on", flags: OpenFlags.readWrite)
        #expect(try await driver.read(delay) == Array("500\n".utf8))
        #expect(await write("\(led)/brightness", "0") == nil, "brightness 0 removes the trigger")
        #expect(try !driver.list(led).contains("delay_off"))
        await #expect(throws: Errno.operationNotSupportedByDevice) { try await driver.read(delay) }
        await #expect(throws: Errno.operationNotSupportedByDevice) { try await driver.write(delay, Array("1".utf8)) }
        driver.close(delay)
        #expect(await write("\(led)/trigger", "timer") == nil)
        #expect(try await read("\(led)/delay_on") == "500\n", "back, as a new file")
    }

    @Test func pwmStateRules() async throws {
        let chip = "/class/pwm/pwmchip0"
        #expect(await write("\(chip)/export", "2") == .operationNotSupportedByDevice)
        #expect(await write("\(chip)/export", "0") == nil)
        #expect(await write("\(chip)/export", "0") == .resourceBusy)
        let pwm = "\(chip)/pwm0"
        #expect(await write("\(pwm)/enable", "1") == .invalidArgument, "period 0")
        #expect(await write("\(pwm)/duty_cycle", "10") == .invalidArgument, "above period 0")
        #expect(await write("\(pwm)/period", "1000") == nil)
        #expect(await write("\(pwm)/duty_cycle", "1001") == .invalidArgument)
        #expect(await write("\(pwm)/duty_cycle", "0x1f4") == nil)
        #expect(try await read("\(pwm)/duty_cycle") == "500\n")
        #expect(await write("\(pwm)/period", "499") == .invalidArgument, "below duty_cycle")
        #expect(await write("\(pwm)/enable", "2") == .invalidArgument)
        #expect(await write("\(pwm)/enable", "1") == nil)
        #expect(await write("\(pwm)/polarity", "inversed") == .resourceBusy)
        #expect(await write("\(pwm)/enable", "0") == nil)
        #expect(await write("\(pwm)/polarity", "inverted") == .invalidArgument)
        #expect(await write("\(pwm)/polarity", "inversed") == nil)
        #expect(await write("\(chip)/unexport", "1") == .operationNotSupportedByDevice)
        #expect(await write("\(chip)/unexport", "0") == nil)
    }

    @Test func lineAttributesTakeChmodAndChownForTheirLife() async throws {
        #expect(await write("/class/gpio/export", "9") == nil)
        let value = "/class/gpio/gpio9/value"
        try driver.setattr(value, AttributeChange(gid: 20))
        try driver.setattr(value, AttributeChange(permissions: 0o664))
        #expect(try driver.stat(value).permissions == 0o664)
        #expect(try driver.stat(value).gid == 20)
        #expect(throws: Errno.notPermitted) { try driver.setattr("/class/gpio/export", AttributeChange(permissions: 0o222)) }
        #expect(throws: Errno.notPermitted) { try driver.setattr(value, AttributeChange(uid: 5), as: .init(uid: 5, gid: 5, threadID: 1)) }
        #expect(await write("/class/gpio/unexport", "9") == nil)
        #expect(await write("/class/gpio/export", "9") == nil)
        #expect(try driver.stat(value).permissions == 0o644, "a new export starts afresh")
    }

    @Test func writesOverAPageAreE2BIG() async throws {
        #expect(await write("/class/gpio/export", String(repeating: "1", count: 4097)) == .argListTooLong)
    }

    @Test func theSpecTableIsPinned() throws {
        let pinned = try String(
            contentsOfFile: #filePath.replacing("Tests/SysfsFSTests/SysfsRulesTests.swift", with: "spec.md"), encoding: .utf8)
        #expect(machine.tree.specTable == pinned, "sysfs-fuse --spec > Examples/Sysfs/spec.md")
    }
}
