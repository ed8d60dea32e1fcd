import Glibc
import SysfsFS
import VFSKit

/// `sysfs-fuse [--allow-other] MOUNTPOINT` serves the emulated GPIO, LED and PWM classes in the
/// foreground until SIGINT/SIGTERM; `sysfs-fuse --spec` prints the tree.
enum SysfsServer {
    static let usage = """
        usage: sysfs-fuse [--allow-other] MOUNTPOINT   serve class/{gpio,leds,pwm} and control/ at MOUNTPOINT
               sysfs-fuse --spec                       print the tree's files
        """

    static func run(_ arguments: [String]) -> Int32 {
        var mountpoint: String?
        var allowOther = false
        for argument in arguments.dropFirst() {
            switch argument {
            case "--spec":
                print(SysfsMachine.demo().tree.specTable, terminator: "")
                return 0
            case "--allow-other":
                allowOther = true
            case "-h", "--help":
                print(usage)
                return 0
            default:
                guard mountpoint == nil, !argument.hasPrefix("-") else {
                    log(usage)
                    return 2
                }
                mountpoint = argument
            }
        }
        guard let mountpoint else {
            log(usage)
            return 2
        }
        let server: FUSEServer
        do {
            let dispatcher = try Dispatcher(tree: SysfsMachine.demo().tree, uid: getuid(), gid: getgid())
            server = FUSEServer(
                dispatcher: dispatcher, mountpoint: mountpoint,
                options: FUSEMountOptions(allowOther: allowOther, fsname: "sysfs-fuse", subtype: "sysfs-fuse"))
            try server.mount()
        } catch {
            log("sysfs-fuse: \(error)")
            return 1
        }
        print("sysfs-fuse: serving \(mountpoint)")
        fflush(nil)
        server.serve(untilSignalled: [SIGINT, SIGTERM])
        return 0
    }

    static func log(_ message: String) {
        let line = message + "\n"
        _ = line.withCString { write(2, $0, strlen($0)) }
    }
}
