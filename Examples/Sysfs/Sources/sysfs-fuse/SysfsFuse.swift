import ArgumentParser
import Glibc
import SysfsFS
import VFSKit

/// `sysfs-fuse [--allow-other] MOUNTPOINT` serves the emulated GPIO, LED and PWM classes in the
/// foreground until SIGINT/SIGTERM; `sysfs-fuse --spec` prints the tree.
@main
struct SysfsFuse: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sysfs-fuse",
        abstract: "Serve the sysfs GPIO, LED and PWM classes (class/…) and their outside world (control/) over FUSE.")

    @Flag(help: "Print the tree's files as a Markdown table and exit.")
    var spec = false

    @Flag(help: "Let other users use the mount (needs user_allow_other for non-root).")
    var allowOther = false

    @Argument(help: "Where to mount: class/gpio, class/leds, class/pwm and control/ appear under it.")
    var mountpoint: String?

    func run() throws {
        if spec {
            print(SysfsMachine.demo().tree.specTable, terminator: "")
            return
        }
        guard let mountpoint else { throw ValidationError("a mount point is needed (or --spec)") }
        let server: FUSEServer
        do {
            let dispatcher = try Dispatcher(tree: SysfsMachine.demo().tree, uid: getuid(), gid: getgid())
            server = FUSEServer(
                dispatcher: dispatcher, mountpoint: mountpoint,
                options: FUSEMountOptions(allowOther: allowOther, fsname: "sysfs-fuse", subtype: "sysfs-fuse"))
            try server.mount()
        } catch {
            let line = "sysfs-fuse: \(error)\n"
            _ = line.withCString { Glibc.write(2, $0, strlen($0)) }
            throw ExitCode.failure
        }
        print("sysfs-fuse: serving \(mountpoint)")
        fflush(nil)
        server.serve(untilSignalled: [SIGINT, SIGTERM])
    }
}
