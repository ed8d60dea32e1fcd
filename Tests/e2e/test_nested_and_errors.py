"""Nested forks through the simulator's control tree, and the error table of SPEC.md."""

import errno
import os
import threading
import time
import uuid

from harness import (UUID_RE, ZERO_UUID, Blocked, DaemonTestCase, listdir, read_file, read_value, shell,
                     timed, write_file, write_once)


class NestedForkTests(DaemonTestCase):

    def test_child_forks_through_its_libukp(self):
        d = self.start_daemon()
        root = self.root_instance(d)
        child = self.fork(d)
        child_ukp = d.s("instances", child, "libukp")
        self.assertEqual(sorted(listdir(child_ukp)), ["fork", "generation", "vm"])
        # a child that has not forked reads the zero UUID; its vm/ starts empty
        self.assertEqual(read_value(os.path.join(child_ukp, "fork")), ZERO_UUID)
        self.assertEqual(listdir(os.path.join(child_ukp, "vm")), [])
        shell("echo 1 > fork", cwd=child_ukp)
        grandchild = read_value(os.path.join(child_ukp, "fork"))
        self.assertRegex(grandchild, UUID_RE)
        self.assertNotIn(grandchild, (ZERO_UUID, child, root))
        # the grandchild is in the child's vm/ only
        self.assertEqual(listdir(os.path.join(child_ukp, "vm")), [grandchild])
        self.assertEqual(listdir(d.u("vm")), [child])
        self.assertEqual(listdir(d.s("instances", root, "libukp", "vm")), [child])
        self.assertEqual(sorted(listdir(d.s("instances"))), sorted([root, child, grandchild]))
        # the root's result is still its own fork
        self.assertEqual(read_value(d.u("fork")), child)
        # the grandchild has not forked: zero UUID, empty vm/
        grand_ukp = d.s("instances", grandchild, "libukp")
        self.assertEqual(read_value(os.path.join(grand_ukp, "fork")), ZERO_UUID)
        self.assertEqual(listdir(os.path.join(grand_ukp, "vm")), [])
        # the grandchild's files seen from its parent
        gdir = os.path.join(child_ukp, "vm", grandchild)
        self.assertRegex(read_value(os.path.join(gdir, "snapshot")), UUID_RE)
        self.assertEqual(read_value(os.path.join(gdir, "status")), "Running")
        # the child waits for the grandchild through its own tree
        waiter = Blocked(write_once, os.path.join(gdir, "wait"), b"1", os.O_WRONLY, name="child-waits")
        time.sleep(0.2)
        self.assertFalse(waiter.finished())
        write_file(d.s("instances", grandchild, "exit"), b"12\n")
        self.assertEqual(waiter.result(), 1)
        self.assertEqual(read_value(os.path.join(gdir, "wait")), "12")
        # the root instance's own libukp is the same tree as the main mount
        self.assertEqual(read_value(d.s("instances", root, "libukp", "fork")), child)

    def test_root_instance_in_control_tree(self):
        d = self.start_daemon()
        root = self.root_instance(d)
        self.assertRegex(root, UUID_RE)
        self.assertEqual(read_value(d.s("instances", root, "status")), "Running")
        self.assertEqual(read_value(d.s("instances", root, "exit")), "")
        # never forked from and never forked: fork reads empty
        self.assertEqual(read_file(d.s("instances", root, "libukp", "fork")), "")
        self.assertEqual(listdir(d.s("instances", root, "libukp", "vm")), [])


class ErrorTests(DaemonTestCase):

    def test_never_forked_instance_reads_empty_fork(self):
        d = self.start_daemon()
        self.assertEqual(read_file(d.u("fork")), "")
        _, out, _ = shell("cat fork", cwd=d.ukp)
        self.assertEqual(out, "")

    def test_oversize_write_is_einval_and_forks_nothing(self):
        d = self.start_daemon()

        def write_once(data):
            fd = os.open(d.u("fork"), os.O_WRONLY)
            try:
                return os.write(fd, data)
            finally:
                os.close(fd)
        self.assertErrno(errno.EINVAL, write_once, b"x" * 4097)
        self.assertErrno(errno.EINVAL, write_once, b"x" * 65536)
        self.assertEqual(listdir(d.u("vm")), [])
        self.assertEqual(read_file(d.u("fork")), "")
        # exactly 4096 bytes is one fork
        self.assertEqual(timed(write_once, b"y" * 4096), 4096)
        self.assertEqual(len(listdir(d.u("vm"))), 1)
        # the same limit on wait
        child = listdir(d.u("vm"))[0]
        self.assertErrno(errno.EINVAL, write_file, d.u("vm", child, "wait"), b"z" * 4097)

    def test_fail_next_forks_is_eio_and_no_child(self):
        d = self.start_daemon()
        first = self.fork(d)
        write_file(d.s("fail_next_forks"), b"2\n")
        self.assertEqual(read_value(d.s("fail_next_forks")), "2")
        self.assertErrno(errno.EIO, write_file, d.u("fork"))
        self.assertEqual(read_value(d.s("fail_next_forks")), "1")
        rc, _, err = shell("echo 1 > fork", cwd=d.ukp, check=False, program="bash")
        self.assertNotEqual(rc, 0)
        self.assertIn("Input/output error", err)
        self.assertEqual(read_value(d.s("fail_next_forks")), "0")
        # nothing appeared, and a failed fork leaves the previous result in place
        self.assertEqual(listdir(d.u("vm")), [first])
        self.assertEqual(len(listdir(d.s("instances"))), 2)
        self.assertEqual(read_value(d.u("fork")), first)
        # the queue goes on
        second = self.fork(d)
        self.assertEqual(listdir(d.u("vm")), [first, second])

    def test_queue_full_is_ebusy_and_every_request_forks_once(self):
        d = self.start_daemon("--fork-queue-depth", "1")
        write_file(d.s("fork_latency_ms"), b"500\n")
        self.assertEqual(read_value(d.s("fork_latency_ms")), "500")
        gate = threading.Barrier(6)

        def fork_and_read():
            fd = os.open(d.u("fork"), os.O_RDWR)
            try:
                gate.wait(5)
                count = os.write(fd, b"1")
                # the result of the fork this thread started
                return count, os.pread(fd, 4096, 0).decode().strip()
            finally:
                os.close(fd)
        calls = [Blocked(fork_and_read, name="fork-%d" % i) for i in range(6)]
        successes, busy = [], 0
        for call in calls:
            try:
                count, child = call.result(15)
                self.assertEqual(count, 1)
                successes.append(child)
            except OSError as error:
                self.assertEqual(error.errno, errno.EBUSY, error)
                busy += 1
        self.assertGreaterEqual(len(successes), 2, "one running plus one queued must succeed")
        self.assertGreaterEqual(busy, 1, "6 requests on a depth-1 queue: some must get EBUSY")
        self.assertEqual(len(successes) + busy, 6)
        # children == successes, and each thread read its own child
        vm = listdir(d.u("vm"))
        self.assertEqual(len(vm), len(successes))
        self.assertEqual(sorted(vm), sorted(successes))

    def test_structure_changes_are_eperm(self):
        d = self.start_daemon()
        child = self.fork(d)
        cdir = d.u("vm", child)
        E = errno.EPERM
        for path in (d.u("new"), d.u("vm", "new"), os.path.join(cdir, "new")):
            self.assertErrno(E, os.mkdir, path)
            self.assertErrno(E, os.open, path, os.O_CREAT | os.O_WRONLY, 0o644)
        for path in (d.u("fork"), os.path.join(cdir, "status"), os.path.join(cdir, "wait")):
            self.assertErrno(E, os.unlink, path)
            self.assertErrno(E, os.chmod, path, 0o600)
            self.assertErrno(E, os.chown, path, 1, 1)
            self.assertErrno(E, os.utime, path, (1, 1))
            self.assertErrno(E, os.rename, path, path + ".moved")
        self.assertErrno(E, os.rmdir, cdir)
        self.assertErrno(E, os.rmdir, d.u("vm"))
        self.assertErrno(E, os.rename, cdir, d.u("vm", "renamed"))
        self.assertErrno(E, os.symlink, "fork", d.u("link"))
        self.assertErrno(E, os.link, d.u("fork"), d.u("hardlink"))
        self.assertErrno(E, os.truncate, d.u("fork"), 5)
        self.assertErrno(E, os.truncate, os.path.join(cdir, "wait"), 1)
        # truncating to 0 (and a shell's O_TRUNC) is accepted on writable files, and forks nothing
        timed(os.truncate, d.u("fork"), 0)
        fd = timed(os.open, d.u("fork"), os.O_WRONLY | os.O_TRUNC)
        os.close(fd)
        self.assertEqual(listdir(d.u("vm")), [child])
        # shell tools see the same
        for command in ("mkdir vm/x", "rm fork", "mv fork f2", "chmod 600 fork", "truncate -s 5 fork",
                        "touch newfile"):
            rc, _, err = shell(command, cwd=d.ukp, check=False)
            self.assertNotEqual(rc, 0, command)
            self.assertIn("Operation not permitted", err, command)
        # and the control tree
        self.assertErrno(E, os.mkdir, d.s("instances", "x"))
        self.assertErrno(E, os.unlink, d.s("fail_next_forks"))
        self.assertErrno(E, os.rmdir, d.s("instances", child))
        self.assertEqual(sorted(listdir(d.u())), ["fork", "generation", "vm"])

    def test_read_only_files_refuse_writes(self):
        d = self.start_daemon()
        child = self.fork(d)
        for name in ("snapshot", "creation_time", "status"):
            path = d.u("vm", child, name)
            self.assertErrno((errno.EACCES,), os.open, path, os.O_WRONLY)
            fd = timed(os.open, path, os.O_RDONLY)
            self.addCleanup(os.close, fd)
            self.assertErrno(errno.EBADF, os.write, fd, b"1")
        # the same through the child's parent tree in the control mount
        root = self.root_instance(d)
        self.assertErrno(errno.EACCES, os.open, d.s("instances", root, "libukp", "vm", child, "snapshot"), os.O_WRONLY)
        rc, _, err = shell("echo 1 > vm/%s/status" % child, cwd=d.ukp, check=False)
        self.assertNotEqual(rc, 0)
        self.assertIn("Permission denied", err)

    def test_unknown_names_are_enoent(self):
        d = self.start_daemon()
        child = self.fork(d)
        for name in ("nope", "not-a-uuid", str(uuid.uuid4()), child.upper(), child[:-1], ZERO_UUID,
                     "x" * 255, ".hidden"):
            self.assertErrno(errno.ENOENT, os.stat, d.u("vm", name))
        self.assertErrno(errno.ENOENT, os.stat, d.u("nope"))
        self.assertErrno(errno.ENOENT, os.stat, d.u("vm", child, "nope"))
        self.assertErrno(errno.ENOENT, os.stat, d.s("instances", str(uuid.uuid4())))
        self.assertErrno(errno.ENAMETOOLONG, os.stat, d.u("vm", "x" * 10000))
        self.assertEqual(listdir(d.u("vm")), [child])

    def test_bad_values_in_control_tree_are_einval(self):
        d = self.start_daemon()
        child = self.fork(d)
        cases = {
            d.s("fail_next_forks"): [b"abc\n", b"-1\n", b"1.5\n", b"\n", b"\x00\n", b"\xff\n", b"99999999999999999999999\n"],
            d.s("fork_latency_ms"): [b"soon\n", b"-5\n", b"1e3x\n", b"\n"],
            d.s("boot_latency_ms"): [b"later\n", b"-1\n", b"\n"],
            d.s("instances", child, "status"): [b"Bogus\n", b"running\n", b"Starting\n", b"7\n", b"\n"],
            d.s("instances", child, "exit"): [b"x\n", b"1.0\n", b"\n", b"seven\n"],
        }
        for path, values in cases.items():
            before = read_file(path)
            for value in values:
                self.assertErrno(errno.EINVAL, write_file, path, value)
                self.assertEqual(read_file(path), before, "%s changed after %r" % (path, value))
        self.assertEqual(read_value(d.u("vm", child, "status")), "Running")
        # and the daemon keeps serving
        self.fork(d)
        self.assertEqual(read_value(d.s("fail_next_forks")), "0")


if __name__ == "__main__":
    import unittest
    unittest.main()
