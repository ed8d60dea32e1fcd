import Foundation
import Testing
import VFSKit

extension KernelTests {
    /// Ordinary clients on ordinary files: cat, stat, ls, shell redirection, pread.
    @Suite(.timeLimit(.minutes(2)))
    struct Files {
        @Test func catStatAndList() async throws {
            try await withMountedTree(KernelTestTree().tree) { mount in
                let cat = await ProcessResult.run(["/bin/cat", mount.file("status")])
                #expect(cat.status == 0)
                #expect(cat.stdout == "Running\n")

                let stat = await ProcessResult.run([
                    "/usr/bin/stat", "-c", "%s %a %F %u", mount.file("status"), mount.file("note"), mount.file("items"),
                ])
                #expect(
                    stat.stdout == "4096 444 regular file \(getuid())\n4096 666 regular file \(getuid())\n0 555 directory \(getuid())\n")

                let ls = await ProcessResult.run(["/bin/ls", "-a", mount.path])
                #expect(
                    ls.stdout.split(separator: "\n") == [
                        ".", "..", "items", "note", "release", "remove", "set_status", "status", "wait", "waiting",
                    ])
            }
        }

        @Test func shellRedirectionWritesAndTruncates() async throws {
            try await withMountedTree(KernelTestTree().tree) { mount in
                let write = await ProcessResult.shell("echo hello > \(mount.file("note"))")
                #expect(write.status == 0, "\(write.stderr)")
                #expect(await ProcessResult.run(["/bin/cat", mount.file("note")]).stdout == "hello\n")
                let append = await ProcessResult.shell("echo again >> \(mount.file("note"))")
                #expect(append.status == 0, "\(append.stderr)")
                #expect(await ProcessResult.run(["/bin/cat", mount.file("note")]).stdout == "again\n")
            }
        }

        /// Root passes the kernel's mode check; the daemon refuses itself.
        @Test func readOnlyAndNamespaceChangesAreRefused() async throws {
            try await withMountedTree(KernelTestTree().tree) { mount in
                let cases: [(String, String)] = [
                    ("echo x > \(mount.file("status"))", "Permission denied"),
                    ("truncate -s 5 \(mount.file("note"))", "Operation not permitted"),
                    ("touch \(mount.file("note"))", "Operation not permitted"),
                    ("chmod 600 \(mount.file("note"))", "Operation not permitted"),
                    ("chown 1:1 \(mount.file("note"))", "Operation not permitted"),
                    ("mkdir \(mount.file("dir"))", "Operation not permitted"),
                    ("touch \(mount.file("new"))", "Operation not permitted"),
                    ("rm \(mount.file("note"))", "Operation not permitted"),
                    ("mv \(mount.file("note")) \(mount.file("moved"))", "Operation not permitted"),
                    ("ln -s x \(mount.file("link"))", "Operation not permitted"),
                    ("ln \(mount.file("note")) \(mount.file("hard"))", "Operation not permitted"),
                    ("mknod \(mount.file("fifo")) p", "Operation not permitted"),
                ]
                for (script, message) in cases {
                    let result = await ProcessResult.shell(script)
                    #expect(result.status != 0, "\(script) succeeded")
                    #expect(result.stderr.contains(message), "\(script): \(result.stderr)")
                }
                let truncateToZero = await ProcessResult.shell("truncate -s 0 \(mount.file("note"))")
                #expect(truncateToZero.status == 0, "\(truncateToZero.stderr)")
                let statfs = await ProcessResult.run(["/bin/df", mount.path])
                #expect(statfs.status == 0)
            }
        }

        /// pread at any offset and buffer size sees the one value and nothing past it;
        /// sequential small reads continue the same rendering.
        @Test(arguments: [
            (0, 64, "Running\\n"), (0, 1, "R"), (3, 2, "ni"), (7, 100, "\\n"), (8, 64, ""), (4096, 16, ""), (0, 4096, "Running\\n"),
            (2, 131072, "nning\\n"),
        ])
        func preadAtOffsets(offset: Int, size: Int, expected: String) async throws {
            let client = try KernelFixture.client
            try await withMountedTree(KernelTestTree().tree) { mount in
                let result = await ProcessResult.run([client, "pread", mount.file("status"), "\(offset)", "\(size)"])
                #expect(fields(result.stdout)["data"] == expected, "\(result.stdout)")
                #expect(fields(result.stdout)["n"] == "\(expected.replacingOccurrences(of: "\\n", with: "\n").utf8.count)")
            }
        }

        @Test func pythonReadsAndWrites() async throws {
            try await withMountedTree(KernelTestTree().tree) { mount in
                let script = """
                    import os, sys
                    status, note = sys.argv[1], sys.argv[2]
                    fd = os.open(status, os.O_RDONLY)
                    out = [os.read(fd, 3), os.read(fd, 3), os.read(fd, 100), os.read(fd, 100), os.pread(fd, 100, 0)]
                    os.close(fd)
                    fd = os.open(note, os.O_WRONLY | os.O_TRUNC)
                    out.append(os.write(fd, b"from python\\n"))
                    os.close(fd)
                    with open(note) as f: out.append(f.read())
                    print(repr(out))
                    """
                let result = await ProcessResult.python(script, [mount.file("status"), mount.file("note")])
                #expect(result.stdout == "[b'Run', b'nin', b'g\\n', b'', b'Running\\n', 12, 'from python\\n']\n", "\(result.stderr)")
            }
        }

        /// The kernel hands a write over in one request (direct I/O, up to 128 KiB), so
        /// the write limit holds: longer writes fail with EINVAL and change nothing.
        @Test func writesPastTheLimitAreInvalid() async throws {
            try await withMountedTree(KernelTestTree().tree) { mount in
                let script = """
                    import os, sys, errno
                    out = []
                    for size in (4096, 4097, 5000, 300000):
                        fd = os.open(sys.argv[1], os.O_WRONLY)
                        try:
                            out.append(os.write(fd, b"x" * (size - 1) + b"\\n"))
                        except OSError as e:
                            out.append(errno.errorcode[e.errno])
                        os.close(fd)
                    out.append(len(open(sys.argv[1]).read()))
                    print(repr(out))
                    """
                let result = await ProcessResult.python(script, [mount.file("note")])
                #expect(result.stdout == "[4096, 'EINVAL', 'EINVAL', 'EINVAL', 4096]\n", "\(result.stderr)")
            }
        }

        /// A listing longer than one getdents buffer resumes by cookie: every entry
        /// once, in insertion order, even with a tiny buffer.
        @Test func longListingsResumeByCookie() async throws {
            let fixture = KernelTestTree()
            let names = (0..<5000).map { "item-\($0)" }
            for (index, name) in names.enumerated() { fixture.items.insert(index, for: name) }
            try await withMountedTree(fixture.tree) { mount in
                let listing = await ProcessResult.run(["/bin/ls", "-f", mount.file("items")])
                #expect(listing.stdout.split(separator: "\n").map(String.init) == [".", ".."] + names)
                let client = try KernelFixture.client
                let small = await ProcessResult.run([client, "readdir", mount.file("items"), "200"])
                #expect(small.stdout.split(separator: "\n").map(String.init) == [".", ".."] + names, "\(small.stderr)")
            }
        }

        /// Dynamic entries list in insertion order; a removed entry vanishes at once
        /// (zero cache timeouts) and its open handles answer ESTALE. The declared files inside
        /// an entry are cached like declared nodes, and still vanish with it: by path, relative
        /// to a descriptor of the removed directory, and for `fstat` of an open handle.
        @Test func dynamicEntriesAndStaleHandles() async throws {
            let fixture = KernelTestTree()
            fixture.items.insert(1, for: "a")
            fixture.items.insert(2, for: "b")
            try await withMountedTree(fixture.tree) { mount in
                let script = """
                    import os, sys, errno
                    root = sys.argv[1]
                    out = [sorted(os.listdir(root + "/items")) == ["a", "b"], os.listdir(root + "/items")]
                    fd = os.open(root + "/items/a/value", os.O_RDONLY)
                    out.append(os.pread(fd, 64, 0))
                    directory = os.open(root + "/items/a", os.O_RDONLY | os.O_DIRECTORY)
                    os.close(os.open("value", os.O_RDONLY, dir_fd=directory))
                    unread = os.open(root + "/items/a/value", os.O_RDONLY)
                    os.fstat(unread)  # its attributes are cached now
                    os.fstat(directory)
                    with open(root + "/remove", "w") as f: f.write("a\\n")
                    try:  # before any read of the file (a read invalidates atime: fstat would ask anyway)
                        os.fstat(unread); out.append("fstat after removal")
                    except OSError as e:
                        out.append(errno.errorcode[e.errno])
                    try:
                        os.fstat(directory); out.append("fstat of the directory after removal")
                    except OSError as e:
                        out.append(errno.errorcode[e.errno])
                    try:
                        os.pread(fd, 64, 0); out.append("read after removal")
                    except OSError as e:
                        out.append(errno.errorcode[e.errno])
                    out.append(os.path.exists(root + "/items/a"))
                    out.append(os.path.exists(root + "/items/a/value"))
                    try:
                        os.open("value", os.O_RDONLY, dir_fd=directory); out.append("opened in a removed entry")
                    except OSError as e:
                        out.append(errno.errorcode[e.errno])
                    out.append(os.listdir(root + "/items"))
                    try:
                        os.stat(root + "/items/zzz"); out.append("found")
                    except OSError as e:
                        out.append(errno.errorcode[e.errno])
                    print(repr(out))
                    """
                let result = await ProcessResult.python(script, [mount.path])
                #expect(
                    result.stdout == "[True, ['a', 'b'], b'1\\n', 'ESTALE', 'ESTALE', 'ESTALE', False, False, 'ESTALE', ['b'], 'ENOENT']\n",
                    "\(result.stderr)")
            }
        }
    }
}
