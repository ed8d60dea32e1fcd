import Foundation
import Testing
import VFSKit

extension KernelTests {
    /// Writes that block in a handler, interrupts, and poll through the kernel.
    @Suite(.timeLimit(.minutes(5)))
    struct Blocking {
        /// The headline: 10,000 writers blocked at once on one file, with libfuse's
        /// default ten worker threads, all released by one event; other reads are
        /// answered meanwhile.
        @Test func tenThousandBlockedWritersReleasedByOneEvent() async throws {
            let client = try KernelFixture.client
            let fixture = KernelTestTree()
            try await withMountedTree(fixture.tree) { mount in
                let peakThreads = PeakSampler { mount.servingThreads }
                let result = await ProcessResult.run(
                    [client, "writers", "10000", mount.file("wait"), mount.file("waiting"), mount.file("release"), mount.file("status")],
                    timeout: 240)
                print("10,000 blocked writers: \(result.stdout)", terminator: "")
                let values = fields(result.stdout)
                #expect(result.status == 0, "\(result.stdout) \(result.stderr)")
                #expect(values["released"] == "10000")
                #expect(values["failed"] == "0")
                #expect(fixture.gate.waiting == 0)
                #expect(mount.server.blockedRequests == 0)
                // libfuse's default limit: at most 10 workers, plus the serving thread and
                // its stop helper, however many requests are blocked.
                let peak = peakThreads.stop()
                print("threads serving the mount, at most: \(peak)")
                #expect((2...12).contains(peak), "\(peak) threads served the mount")
            }
        }

        /// A signal to a thread blocked in write(2) interrupts it with EINTR (the
        /// kernel's FUSE_INTERRUPT cancels the handler), and nothing else changes.
        @Test func signalInterruptsBlockedWrite() async throws {
            let client = try KernelFixture.client
            let fixture = KernelTestTree()
            try await withMountedTree(fixture.tree) { mount in
                let result = await ProcessResult.run([client, "interrupt", mount.file("wait"), mount.file("waiting")], timeout: 30)
                let values = fields(result.stdout)
                #expect(values["result"] == "-1", "\(result.stdout) \(result.stderr)")
                #expect(values["errno"] == "\(EINTR)")
                #expect(fixture.gate.waiting == 0)
                #expect(!fixture.gate.isOpen)
                #expect(await KernelFixture.eventually { mount.server.blockedRequests == 0 })
            }
        }

        /// A writer killed while blocked is answered at once; the mount stays usable.
        @Test func killedWriterLeavesNothingBehind() async throws {
            let fixture = KernelTestTree()
            try await withMountedTree(fixture.tree) { mount in
                let writer = Process()
                writer.executableURL = URL(fileURLWithPath: "/bin/sh")
                writer.arguments = ["-c", "echo 1 > \(mount.file("wait"))"]
                try writer.run()
                #expect(await KernelFixture.eventually { fixture.gate.waiting == 1 })
                kill(writer.processIdentifier, SIGKILL)
                writer.waitUntilExit()
                #expect(await KernelFixture.eventually { fixture.gate.waiting == 0 && mount.server.blockedRequests == 0 })
                #expect(await ProcessResult.run(["/bin/cat", mount.file("status")]).stdout == "Running\n")
            }
        }

        /// sysfs-style poll: POLLPRI|POLLIN once the value changed since this open
        /// file last read from offset 0; quiet again after re-reading.
        @Test func pollPriorityOnStatusChange() async throws {
            try await withMountedTree(KernelTestTree().tree) { mount in
                let script = """
                    import os, sys, select, threading, time
                    status, setter = sys.argv[1], sys.argv[2]
                    fd = os.open(status, os.O_RDONLY)
                    out = [os.pread(fd, 64, 0)]
                    p = select.poll()
                    p.register(fd, select.POLLPRI | select.POLLIN)
                    out.append(p.poll(0))
                    def change():
                        time.sleep(0.3)
                        with open(setter, "w") as f: f.write("Stopped\\n")
                    threading.Thread(target=change).start()
                    start = time.time()
                    events = p.poll(10000)
                    out.append([(e & (select.POLLPRI | select.POLLIN)) for _, e in events])
                    out.append(0.2 < time.time() - start < 5)
                    out.append(os.pread(fd, 64, 0))
                    out.append(p.poll(0))
                    print(repr(out))
                    """
                let result = await ProcessResult.python(script, [mount.file("status"), mount.file("set_status")])
                let expected = "[b'Running\\n', [], [\(POLLPRI | POLLIN)], True, b'Stopped\\n', []]\n"
                #expect(result.stdout == expected, "\(result.stderr)")
            }
        }

        /// POLLIN on `wait` once released; a non-blocking read before that is EAGAIN,
        /// a blocking one reads nothing.
        @Test func pollInOnceReleased() async throws {
            try await withMountedTree(KernelTestTree().tree) { mount in
                let script = """
                    import os, sys, select, threading, time, errno
                    wait, release = sys.argv[1], sys.argv[2]
                    out = []
                    fd = os.open(wait, os.O_RDONLY | os.O_NONBLOCK)
                    try:
                        os.read(fd, 64); out.append("read")
                    except OSError as e:
                        out.append(errno.errorcode[e.errno])
                    plain = os.open(wait, os.O_RDONLY)
                    out.append(os.read(plain, 64))
                    p = select.poll()
                    p.register(fd, select.POLLIN)
                    out.append(p.poll(0))
                    def go():
                        time.sleep(0.3)
                        with open(release, "w") as f: f.write("1\\n")
                    threading.Thread(target=go).start()
                    out.append([e & select.POLLIN for _, e in p.poll(10000)])
                    out.append(os.pread(fd, 64, 0))
                    print(repr(out))
                    """
                let result = await ProcessResult.python(script, [mount.file("wait"), mount.file("release")])
                #expect(result.stdout == "['EAGAIN', b'', [], [\(POLLIN)], b'0\\n']\n", "\(result.stderr)")
            }
        }

    }
}
