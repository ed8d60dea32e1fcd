import Foundation
import Synchronization
import Testing
import VFSConformance
import VFSKit

extension KernelTests {
    /// Links, ForEach of files, conditional nodes, chmod/chown and the sysfs profile through
    /// the kernel, with Python's standard library as the client; then VFSConformance on the mount.
    @Suite(.timeLimit(.minutes(2)))
    struct ControlFeatures {
        final class Flag: Sendable {
            let value = Atomic(false)
        }

        final class State: Sendable {
            let sensors = DynamicEntries<Int, Int>()
            let armed = Flag()
            let armedChanged = ChangeSignal()
            let reading = ChangeSignal()

            var tree: Tree {
                let armed = armed
                let armedChanged = armedChanged
                let reading = reading
                return Tree("kernel features", profile: .sysfs) {
                    File("arm", "0 or 1")
                        .read("armed") { _ in armed.value.load(ordering: .relaxed) }
                        .write(Bool.self, "arm or disarm") { _, value in
                            armed.value.store(value, ordering: .relaxed)
                            armedChanged.signal()
                        }
                        .poll("after a reading", .changes { _ in reading })
                        .allowing([.mode, .owner])
                    File("trip", "Only while armed").read("1") { _ in 1 }
                        .present(while: Condition(when: { armed.value.load(ordering: .relaxed) }, signalledBy: armedChanged))
                    Directory("sensors", "One file per sensor") {
                        ForEach(each: sensors, "one file per sensor", named: "s<n>") { sensor in
                            File("", "a sensor").read("its value") { _ in try sensor.value }
                        }
                    }
                    Link("arm-link", to: "arm", "A fixed link")
                    Link("subsystem", to: "../../outside", "Leaves the tree")
                    Link("sensor", "The first sensor") { "sensors/s\(self.sensors.keys.first ?? 0)" }
                }
            }
        }

        static let script = #"""
            import errno, os, select, stat, sys
            m = sys.argv[1]
            def out(k, v): print(f"{k}={v}")
            st = os.lstat(f"{m}/arm-link")
            out("link", f"{stat.S_ISLNK(st.st_mode)}:{oct(st.st_mode & 0o777)}:{st.st_size}:{os.readlink(m + '/arm-link')}")
            out("follow", open(f"{m}/arm-link").read().strip())
            out("types", ",".join(f"{e.name}:{'l' if e.is_symlink() else 'd' if e.is_dir(follow_symlinks=False) else 'f'}" for e in sorted(os.scandir(m), key=lambda e: e.name)))
            out("sensors", ",".join(sorted(os.listdir(f"{m}/sensors"))))
            out("sensor", open(f"{m}/sensor").read().strip())
            out("trip_absent", not os.path.exists(f"{m}/trip") and "trip" not in os.listdir(m))
            with open(f"{m}/arm", "w") as f: f.write("1\n")
            out("trip_present", open(f"{m}/trip").read().strip())
            fd = os.open(f"{m}/trip", os.O_RDONLY)
            with open(f"{m}/arm", "w") as f: f.write("0")
            try:
                os.pread(fd, 8, 0); out("gone", "read")
            except OSError as e:
                out("gone", errno.errorcode[e.errno])
            os.close(fd)
            out("trip_listed", "trip" in os.listdir(m))
            def werr(path, data):
                fd = os.open(path, os.O_WRONLY)
                try:
                    os.write(fd, data); return "ok"
                except OSError as e:
                    return errno.errorcode[e.errno]
                finally:
                    os.close(fd)
            out("streq", werr(f"{m}/arm", b"1\n\n"))
            out("big", werr(f"{m}/arm", b"1" * 4097))
            os.chmod(f"{m}/arm", 0o664); os.chown(f"{m}/arm", -1, 20)
            st = os.stat(f"{m}/arm"); out("chmod", f"{oct(st.st_mode & 0o777)}:{st.st_gid}")
            try:
                os.chmod(f"{m}/sensors", 0o700); out("chmod_dir", "ok")
            except OSError as e:
                out("chmod_dir", errno.errorcode[e.errno])
            fd = os.open(f"{m}/arm", os.O_RDONLY)
            p = select.poll(); p.register(fd, select.POLLIN | select.POLLOUT | select.POLLPRI | select.POLLERR)
            out("poll_idle", hex(p.poll(0)[0][1]))
            r, _, x = select.select([fd], [], [fd], 0); out("select", f"{len(r)}:{len(x)}")
            only_err = select.poll(); only_err.register(fd, select.POLLERR)
            out("err_idle", [ev for _, ev in only_err.poll(0)])
            sys.stdout.flush()
            sys.stdin.readline()   # the test fires the signal
            out("err_woken", [ev for _, ev in only_err.poll(5000)])
            """#

        @Test func throughTheKernel() async throws {
            let state = State()
            state.sensors.insert(5, for: 2)
            state.sensors.insert(6, for: 11)
            try await withMountedTree(state.tree) { mount in
                let process = Process()
                process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
                process.arguments = ["python3", "-c", Self.script, mount.path]
                let input = Pipe()
                let output = Pipe()
                process.standardInput = input
                process.standardOutput = output
                try process.run()
                // Wait for the script to block on stdin, then fire the change it polls for.
                var text = ""
                let handle = output.fileHandleForReading
                while !text.contains("err_idle=") {
                    let chunk = handle.availableData
                    if chunk.isEmpty { break }
                    text += String(decoding: chunk, as: UTF8.self)
                }
                state.reading.signal()
                try input.fileHandleForWriting.write(contentsOf: Array("go\n".utf8))
                text += String(decoding: handle.readDataToEndOfFile(), as: UTF8.self)
                process.waitUntilExit()
                let result = fields(text)
                #expect(result["link"] == "True:0o777:3:arm")
                #expect(result["follow"] == "0")
                #expect(result["types"] == "arm:f,arm-link:l,sensor:l,sensors:d,subsystem:l")
                #expect(result["sensors"] == "s11,s2")
                #expect(result["sensor"] == "5")
                #expect(result["trip_absent"] == "True")
                #expect(result["trip_present"] == "1")
                #expect(result["gone"] == "ENODEV")
                #expect(result["trip_listed"] == "False")
                #expect(result["streq"] == "EINVAL")
                #expect(result["big"] == "E2BIG")
                #expect(result["chmod"] == "0o664:20")
                #expect(result["chmod_dir"] == "EPERM")
                #expect(result["poll_idle"] == "0x5", "kernfs: POLLIN|POLLOUT of what was asked")
                #expect(result["select"] == "1:0", "readable at once, no exception")
                #expect(result["err_idle"] == "[]")
                #expect(result["err_woken"] == "[8]", "POLLERR wakes a POLLERR-only poller (POLLPRI not asked for): \(text)")
            }
        }

        @Test func conformsWhenMounted() async throws {
            let state = State()
            state.sensors.insert(5, for: 2)
            state.armed.value.store(true, ordering: .relaxed)
            let owner = Owner(uid: getuid(), gid: getgid())
            try await withMountedTree(state.tree) { mount in
                let report = await ConformanceSuite(tree: state.tree, owner: owner).run(on: MountedTarget(mountpoint: mount.path))
                #expect(report.passed, "\(report)")
            }
            let driver = try InProcessDriver(state.tree, uid: owner.uid, gid: owner.gid)
            let report = await ConformanceSuite(tree: state.tree, owner: owner).run(on: InProcessTarget(driver: driver))
            #expect(report.passed, "\(report)")
        }
    }
}
