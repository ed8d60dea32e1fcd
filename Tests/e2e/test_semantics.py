"""Finer points of SPEC.md through the kernel: per-thread fork results, O_TRUNC and empty
writes, reads that continue one rendering, poll on exit, mmap, ownership and access."""

import errno
import mmap
import os
import select
import shutil
import subprocess
import threading
import time

from harness import (STEP, UUID_RE, ZERO_UUID, Blocked, DaemonTestCase, listdir, poll_fd, read_file,
                     read_value, shell, timed, write_file, eventually)

POLL_STATUS = select.POLLPRI | select.POLLIN


class ForkResultTests(DaemonTestCase):

    def test_each_thread_reads_the_result_of_its_own_fork(self):
        d = self.start_daemon()
        results = {}
        forked = threading.Event()
        release = threading.Event()

        def fork_then_read(name):
            fd = os.open(d.u("fork"), os.O_RDWR)
            try:
                os.write(fd, b"1")
                results[name + "-after-fork"] = os.pread(fd, 4096, 0).decode().strip()
                if name == "a":
                    forked.set()
                    release.wait(STEP)
                results[name] = os.pread(fd, 4096, 0).decode().strip()
            finally:
                os.close(fd)
        a = Blocked(fork_then_read, "a", name="thread-a")
        self.assertTrue(forked.wait(STEP))
        timed(fork_then_read, "b")  # thread b forks after a
        release.set()
        a.result()
        self.assertRegex(results["a"], UUID_RE)
        self.assertRegex(results["b"], UUID_RE)
        self.assertNotEqual(results["a"], results["b"])
        self.assertEqual(results["a"], results["a-after-fork"], "thread a saw thread b's fork")
        self.assertEqual(listdir(d.u("vm")), [results["a"], results["b"]])
        # a thread (and a process) that never forked reads the last fork completed
        self.assertEqual(read_value(d.u("fork")), results["b"])
        _, out, _ = shell("cat fork", cwd=d.ukp)
        self.assertEqual(out, results["b"] + "\n")

    def test_open_with_o_trunc_and_empty_write_fork_nothing(self):
        d = self.start_daemon()
        shell(": > fork", cwd=d.ukp)  # the shell opens with O_TRUNC and writes nothing
        fd = timed(os.open, d.u("fork"), os.O_WRONLY | os.O_TRUNC)
        try:
            self.assertEqual(timed(os.write, fd, b""), 0)
        finally:
            os.close(fd)
        self.assertEqual(listdir(d.u("vm")), [])
        self.assertEqual(read_file(d.u("fork")), "")
        # a split write of 8 KiB by a tool: EINVAL, still nothing
        rc, _, _ = shell("head -c 8192 /dev/zero | dd of=fork bs=8192 count=1 2>/dev/null", cwd=d.ukp, check=False)
        self.assertNotEqual(rc, 0)
        self.assertEqual(listdir(d.u("vm")), [])

    def test_every_fork_write_forks_exactly_once(self):
        d = self.start_daemon()
        fd = timed(os.open, d.u("fork"), os.O_WRONLY)
        try:
            for size in (1, 2, 100, 4095, 4096):
                self.assertEqual(timed(os.write, fd, b"1" * size), size)
        finally:
            os.close(fd)
        self.assertEqual(len(listdir(d.u("vm"))), 5)
        shell("printf 'a' > fork; printf 'no newline' > fork; echo > fork", cwd=d.ukp)
        self.assertEqual(len(listdir(d.u("vm"))), 8)

    def test_written_bytes_are_ignored(self):
        """SPEC: "Any write(2) of 1 to 4096 bytes triggers exactly one fork. The bytes are
        ignored." -- NUL, non-ASCII, control bytes and several lines included; the same
        for wait ("contents ignored")."""
        d = self.start_daemon()
        payloads = [b"\x00", b"\x00" * 4096, b"\xff", "\u00e9".encode(), b"\x01", b"a\x00b", b"1\n2\n", b"\x1b[0m"]
        refused = []
        for data in payloads:
            try:
                self.assertEqual(write_file(d.u("fork"), data), len(data))
            except OSError as error:
                refused.append((data[:8], errno.errorcode[error.errno]))
        child = self.fork(d)
        write_file(d.s("instances", child, "exit"), b"0\n")
        for data in payloads:
            try:
                self.assertEqual(write_file(d.u("vm", child, "wait"), data), len(data))
            except OSError as error:
                refused.append(("wait", data[:8], errno.errorcode[error.errno]))
        self.assertEqual(refused, [], "writes refused although the bytes are ignored")
        self.assertEqual(len(listdir(d.u("vm"))), len(payloads) + 1)


class ReadAndPollTests(DaemonTestCase):

    def test_later_offset_continues_the_rendering_of_that_open_file(self):
        d = self.start_daemon()
        write_file(d.s("boot_latency_ms"), b"60000\n")
        child = self.fork(d)
        fd = timed(os.open, d.u("vm", child, "status"), os.O_RDONLY)
        self.addCleanup(os.close, fd)
        self.assertEqual(timed(os.read, fd, 3), b"Sta")
        write_file(d.s("instances", child, "status"), b"Running\n")
        # the rest of the value this open file started reading, never half of another
        self.assertEqual(timed(os.read, fd, 4096), b"rting\n")
        self.assertEqual(timed(os.read, fd, 4096), b"")
        self.assertEqual(timed(os.pread, fd, 4096, 0), b"Running\n")

    def test_poll_on_status_wakes_on_exit(self):
        d = self.start_daemon()
        child = self.fork(d)
        fd = timed(os.open, d.u("vm", child, "status"), os.O_RDONLY)
        self.addCleanup(os.close, fd)
        self.assertEqual(timed(os.read, fd, 4096), b"Running\n")
        poller = Blocked(poll_fd, fd, POLL_STATUS, 10000, name="poll-status")
        time.sleep(0.3)
        self.assertFalse(poller.finished(), "poll woke without a state change")
        write_file(d.s("instances", child, "exit"), b"1\n")
        self.assertEqual(poller.result() & POLL_STATUS, POLL_STATUS)
        self.assertEqual(timed(os.pread, fd, 4096, 0), b"Stopped\n")

    def test_many_pollers_on_status_all_wake(self):
        d = self.start_daemon()
        child = self.fork(d)
        fds = []
        for _ in range(20):
            fd = timed(os.open, d.u("vm", child, "status"), os.O_RDONLY)
            self.addCleanup(os.close, fd)
            timed(os.read, fd, 4096)
            fds.append(fd)
        pollers = [Blocked(poll_fd, fd, POLL_STATUS, 10000, name="poller") for fd in fds]
        time.sleep(0.3)
        write_file(d.s("instances", child, "status"), b"Draining\n")
        for poller in pollers:
            self.assertEqual(poller.result() & POLL_STATUS, POLL_STATUS)

    def test_mmap_is_refused(self):
        d = self.start_daemon()
        child = self.fork(d)
        fd = timed(os.open, d.u("vm", child, "snapshot"), os.O_RDONLY)
        self.addCleanup(os.close, fd)
        with self.assertRaises(OSError):
            mmap.mmap(fd, 4096, prot=mmap.PROT_READ, flags=mmap.MAP_SHARED).close()


class OwnershipAndAccessTests(DaemonTestCase):

    def test_uid_and_gid_options_own_the_files(self):
        d = self.start_daemon("--uid", "1234", "--gid", "4321")
        child = self.fork(d)
        for path in (d.u(), d.u("fork"), d.u("vm"), d.u("vm", child), d.u("vm", child, "wait")):
            info = timed(os.stat, path)
            self.assertEqual((info.st_uid, info.st_gid), (1234, 4321), path)

    def as_nobody(self, command, cwd):
        done = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "sh", "-c", command],
                              cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=STEP)
        return done.returncode, done.stdout.decode(), done.stderr.decode()

    def test_other_users_are_refused_by_default_and_modes_apply_with_allow_other(self):
        if os.getuid() != 0 or shutil.which("setpriv") is None:
            self.skipTest("needs root and setpriv(1) to act as a second user")
        os.chmod(self.dir, 0o755)
        d = self.start_daemon()
        self.fork(d)
        rc, _, err = self.as_nobody("cat fork", d.ukp)
        self.assertNotEqual(rc, 0, "another user read the tree without --allow-other")
        self.assertIn("Permission denied", err)
        d.stop()
        d = self.start_daemon("--allow-other")
        child = self.fork(d)
        rc, out, err = self.as_nobody("cat fork; cat vm/%s/status" % child, d.ukp)
        self.assertEqual((rc, out), (0, child + "\nRunning\n"), err)
        rc, _, err = self.as_nobody("echo 1 > vm/%s/snapshot" % child, d.ukp)
        self.assertNotEqual(rc, 0)
        self.assertIn("Permission denied", err)
        rc, _, err = self.as_nobody("echo 1 > fork", d.ukp)
        self.assertEqual(rc, 0, err)
        self.assertEqual(len(listdir(d.u("vm"))), 2)


if __name__ == "__main__":
    import unittest
    unittest.main()
