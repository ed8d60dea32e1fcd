"""The README walkthrough through the kernel: fork, the child's files, status, exit,
wait, poll, retention, stale handles."""

import errno
import os
import select
import stat
import time

from harness import (STEP, UUID_RE, ZERO_UUID, Blocked, DaemonTestCase, listdir, poll_fd, read_file,
                     read_value, shell, timed, write_file, write_once, eventually)

POLL_STATUS = select.POLLPRI | select.POLLIN


class WalkthroughTests(DaemonTestCase):

    def test_fork_with_shell_then_cat_and_ls(self):
        d = self.start_daemon()
        self.assertEqual(sorted(listdir(d.u())), ["fork", "generation", "vm"])
        self.assertEqual(listdir(d.u("vm")), [])
        shell("echo 1 > fork", cwd=d.ukp)
        _, out, _ = shell("cat fork", cwd=d.ukp)
        self.assertRegex(out, r"^[0-9a-f-]{36}\n$")
        child = out.strip()
        self.assertRegex(child, UUID_RE)
        self.assertNotEqual(child, ZERO_UUID)
        _, out, _ = shell("ls vm", cwd=d.ukp)
        self.assertEqual(out, child + "\n")
        _, out, _ = shell("ls vm/%s" % child, cwd=d.ukp)
        self.assertEqual(sorted(out.split()), ["creation_time", "snapshot", "status", "wait"])
        # the control tree lists the root instance and the child
        instances = listdir(d.s("instances"))
        self.assertIn(child, instances)
        self.assertEqual(len(instances), 2)

    def test_children_listed_in_creation_order(self):
        d = self.start_daemon()
        made = [self.fork(d) for _ in range(5)]
        self.assertEqual(listdir(d.u("vm")), made)
        _, out, _ = shell("ls -U vm", cwd=d.ukp)  # -U: directory order, unsorted
        self.assertEqual(out.split(), made)

    def test_status_starting_then_running(self):
        d = self.start_daemon()
        write_file(d.s("boot_latency_ms"), b"1000\n")
        self.assertEqual(read_value(d.s("boot_latency_ms")), "1000")
        started = time.monotonic()
        child = self.fork(d)
        fd = os.open(d.u("vm", child, "status"), os.O_RDONLY)
        self.addCleanup(os.close, fd)
        self.assertEqual(timed(os.read, fd, 4096), b"Starting\n")
        self.assertEqual(read_value(d.s("instances", child, "status")), "Starting")
        # nothing changed since this open file last read: no event yet
        self.assertEqual(timed(poll_fd, fd, POLL_STATUS, 0) & POLL_STATUS, 0)
        revents = timed(poll_fd, fd, POLL_STATUS, 5000)
        waited = time.monotonic() - started
        self.assertEqual(revents & POLL_STATUS, POLL_STATUS, "poll on status after Starting->Running")
        self.assertGreaterEqual(waited, 0.8, "status changed before boot_latency_ms")
        # the sysfs convention: re-read from offset 0
        self.assertEqual(timed(os.pread, fd, 4096, 0), b"Running\n")
        self.assertEqual(read_value(d.u("vm", child, "status")), "Running")
        # read again: no event until the next change
        self.assertEqual(timed(poll_fd, fd, POLL_STATUS, 0) & POLL_STATUS, 0)
        # the platform moves it on: Draining wakes the poll again
        write_file(d.s("instances", child, "status"), b"Draining\n")
        self.assertEqual(timed(poll_fd, fd, POLL_STATUS, 5000) & POLL_STATUS, POLL_STATUS)
        self.assertEqual(timed(os.pread, fd, 4096, 0), b"Draining\n")

    def test_snapshot_creation_time_and_attributes(self):
        d = self.start_daemon()
        before = int(time.time())
        child = self.fork(d)
        after = int(time.time())
        snapshot = read_value(d.u("vm", child, "snapshot"))
        self.assertRegex(snapshot, UUID_RE)
        self.assertNotIn(snapshot, (ZERO_UUID, child))
        created = read_value(d.u("vm", child, "creation_time"))
        self.assertRegex(created, r"^[0-9]+$")
        self.assertTrue(before - 1 <= int(created) <= after + 1, (before, created, after))
        # fixed at creation
        time.sleep(1.1)
        self.assertEqual(read_value(d.u("vm", child, "snapshot")), snapshot)
        self.assertEqual(read_value(d.u("vm", child, "creation_time")), created)
        # a second child has its own snapshot
        other = self.fork(d)
        self.assertNotEqual(read_value(d.u("vm", other, "snapshot")), snapshot)
        # modes and sizes (sysfs style: files report 4096)
        expected = {
            d.u(): (stat.S_IFDIR, 0o555), d.u("vm"): (stat.S_IFDIR, 0o555), d.u("fork"): (stat.S_IFREG, 0o666),
            d.u("vm", child): (stat.S_IFDIR, 0o555),
            d.u("vm", child, "snapshot"): (stat.S_IFREG, 0o444),
            d.u("vm", child, "creation_time"): (stat.S_IFREG, 0o444),
            d.u("vm", child, "status"): (stat.S_IFREG, 0o444),
            d.u("vm", child, "wait"): (stat.S_IFREG, 0o666),
        }
        for path, (kind, mode) in expected.items():
            info = timed(os.stat, path)
            self.assertEqual(stat.S_IFMT(info.st_mode), kind, path)
            self.assertEqual(stat.S_IMODE(info.st_mode), mode, path)
            self.assertEqual(info.st_uid, os.getuid(), path)
            if kind == stat.S_IFREG:
                self.assertEqual(info.st_size, 4096, path)
        # stat(1) agrees
        _, out, _ = shell("stat -c '%%a %%s' vm/%s/snapshot" % child, cwd=d.ukp)
        self.assertEqual(out, "444 4096\n")

    def test_reads_with_any_buffer_size_and_offset(self):
        d = self.start_daemon()
        child = self.fork(d)
        path = d.u("vm", child, "snapshot")
        whole = read_file(path).encode()
        self.assertEqual(len(whole), 37)

        def small_reads(size):
            fd = os.open(path, os.O_RDONLY)
            try:
                parts = []
                while True:
                    part = os.read(fd, size)
                    if not part:
                        return b"".join(parts)
                    parts.append(part)
            finally:
                os.close(fd)
        for size in (1, 2, 7, 36, 37, 38, 4096, 1 << 20):
            self.assertEqual(timed(small_reads, size), whole, size)

        def pread_at(offset):
            fd = os.open(path, os.O_RDONLY)
            try:
                return os.pread(fd, 4096, offset)
            finally:
                os.close(fd)
        self.assertEqual(timed(pread_at, 0), whole)
        self.assertEqual(timed(pread_at, 37), b"")
        self.assertEqual(timed(pread_at, 1 << 40), b"")
        _, out, _ = shell("cat vm/%s/snapshot vm/%s/creation_time" % (child, child), cwd=d.ukp)
        self.assertEqual(len(out.splitlines()), 2)

    def test_exit_through_control_tree_releases_blocked_wait(self):
        d = self.start_daemon()
        child = self.fork(d)
        wait_path = d.u("vm", child, "wait")
        # a shell waiter and a Python waiter block
        waiter_shell = Blocked(shell, "echo 1 > %s" % wait_path, None, 30, name="sh-wait")
        waiter_py = Blocked(write_once, wait_path, b"x", os.O_WRONLY, name="py-wait")
        time.sleep(0.4)
        self.assertFalse(waiter_shell.finished(), "wait returned before the child stopped")
        self.assertFalse(waiter_py.finished(), "wait returned before the child stopped")
        self.assertEqual(read_file(wait_path), "")
        self.assertEqual(read_value(d.s("instances", child, "exit")), "")
        write_file(d.s("instances", child, "exit"), b"7\n")
        self.assertEqual(waiter_shell.result()[0], 0)
        self.assertEqual(waiter_py.result(), 1)
        self.assertEqual(read_value(wait_path), "7")
        self.assertEqual(read_value(d.u("vm", child, "status")), "Stopped")
        self.assertEqual(read_value(d.s("instances", child, "exit")), "7")
        self.assertEqual(read_value(d.s("instances", child, "status")), "Stopped")
        # once stopped, a wait write returns at once
        self.assertEqual(write_file(wait_path, b"1", timeout=2), 1)
        _, out, _ = shell("echo 1 > vm/%s/wait && cat vm/%s/wait" % (child, child), cwd=d.ukp)
        self.assertEqual(out, "7\n")

    def test_wait_read_poll_and_nonblock(self):
        d = self.start_daemon()
        child = self.fork(d)
        wait_path = d.u("vm", child, "wait")
        fd = os.open(wait_path, os.O_RDONLY)
        self.addCleanup(os.close, fd)
        nb = os.open(wait_path, os.O_RDONLY | os.O_NONBLOCK)
        self.addCleanup(os.close, nb)
        # before the exit: 0 bytes, EAGAIN when non-blocking, no POLLIN
        self.assertEqual(timed(os.read, fd, 4096), b"")
        self.assertErrno(errno.EAGAIN, os.read, nb, 4096)
        self.assertEqual(timed(poll_fd, fd, select.POLLIN, 0) & select.POLLIN, 0)
        poller = Blocked(poll_fd, fd, select.POLLIN, 10000, name="poll-wait")
        time.sleep(0.3)
        self.assertFalse(poller.finished(), "poll on wait woke before the exit")
        write_file(d.s("instances", child, "exit"), b"42\n")
        self.assertTrue(poller.result() & select.POLLIN)
        self.assertEqual(timed(os.pread, fd, 4096, 0), b"42\n")
        self.assertEqual(timed(os.pread, nb, 4096, 0), b"42\n")
        # already available: POLLIN at once, also on a fresh open
        self.assertTrue(timed(poll_fd, fd, select.POLLIN, 0) & select.POLLIN)
        fresh = os.open(wait_path, os.O_RDONLY)
        self.addCleanup(os.close, fresh)
        self.assertTrue(timed(poll_fd, fresh, select.POLLIN, 1000) & select.POLLIN)

    def test_exit_code_range_and_stopping_states(self):
        d = self.start_daemon()
        first, second = self.fork(d), self.fork(d)
        write_file(d.s("instances", first, "status"), b"Draining\n")
        self.assertEqual(read_value(d.u("vm", first, "status")), "Draining")
        write_file(d.s("instances", first, "status"), b"Stopping\n")
        self.assertEqual(read_value(d.u("vm", first, "status")), "Stopping")
        self.assertEqual(read_file(d.u("vm", first, "wait")), "")
        write_file(d.s("instances", first, "exit"), b"0\n")
        self.assertEqual(read_value(d.u("vm", first, "wait")), "0")
        write_file(d.s("instances", second, "exit"), b"255\n")
        self.assertEqual(read_value(d.u("vm", second, "wait")), "255")

    def test_template_is_not_stopped(self):
        d = self.start_daemon()
        child = self.fork(d)
        waiter = Blocked(write_once, d.u("vm", child, "wait"), b"1", os.O_WRONLY, name="wait-template")
        write_file(d.s("instances", child, "status"), b"Template\n")
        self.assertEqual(read_value(d.u("vm", child, "status")), "Template")
        time.sleep(0.3)
        self.assertFalse(waiter.finished(), "a Template child released its waiters")
        self.assertEqual(read_file(d.u("vm", child, "wait")), "")
        write_file(d.s("instances", child, "exit"), b"3\n")
        self.assertEqual(waiter.result(), 1)

    def test_retention_then_enoent_and_estale(self):
        d = self.start_daemon(retention=1)
        child = self.fork(d)
        keep = self.fork(d)
        status_fd = os.open(d.u("vm", child, "status"), os.O_RDONLY)
        self.addCleanup(os.close, status_fd)
        dir_fd = os.open(d.u("vm", child), os.O_RDONLY | os.O_DIRECTORY)
        self.addCleanup(os.close, dir_fd)
        wait_fd = os.open(d.u("vm", child, "wait"), os.O_RDWR)
        self.addCleanup(os.close, wait_fd)
        write_file(d.s("instances", child, "exit"), b"5\n")
        stopped_at = time.monotonic()
        # visible for the retention period, Stopped, wait readable
        self.assertIn(child, listdir(d.u("vm")))
        self.assertEqual(read_value(d.u("vm", child, "status")), "Stopped")
        self.assertEqual(read_value(d.u("vm", child, "wait")), "5")
        eventually(lambda: child not in listdir(d.u("vm")), timeout=5, message="child cleaned up after retention")
        self.assertGreaterEqual(time.monotonic() - stopped_at, 0.9, "cleaned up before the retention period")
        self.assertEqual(listdir(d.u("vm")), [keep])
        self.assertErrno(errno.ENOENT, os.stat, d.u("vm", child))
        self.assertErrno(errno.ENOENT, os.stat, d.u("vm", child, "status"))
        self.assertErrno(errno.ENOENT, read_file, d.u("vm", child, "wait"))
        rc, _, err = shell("cat vm/%s/status" % child, cwd=d.ukp, check=False)
        self.assertNotEqual(rc, 0)
        self.assertIn("No such file or directory", err)
        # handles opened before: ESTALE
        self.assertErrno(errno.ESTALE, os.pread, status_fd, 4096, 0)
        self.assertErrno(errno.ESTALE, os.fstat, status_fd)
        self.assertErrno(errno.ESTALE, os.write, wait_fd, b"1")
        self.assertErrno(errno.ESTALE, os.pread, wait_fd, 4096, 0)
        self.assertErrno(errno.ESTALE, os.listdir, dir_fd)
        self.assertErrno(errno.ESTALE, os.fstat, dir_fd)
        self.assertErrno(errno.ESTALE, lambda: os.stat("status", dir_fd=dir_fd))
        self.assertErrno(errno.ESTALE, lambda: os.close(os.open("wait", os.O_RDONLY, dir_fd=dir_fd)))
        # a poll on a stale handle reports an error rather than sleeping
        self.assertTrue(timed(poll_fd, status_fd, POLL_STATUS, 2000) & (select.POLLERR | select.POLLHUP | POLL_STATUS))
        # the control tree forgets it as well; the kept child is untouched
        eventually(lambda: child not in listdir(d.s("instances")), timeout=5, message="instance gone")
        self.assertEqual(read_value(d.u("vm", keep, "status")), "Running")

    def test_whole_walkthrough_as_one_shell_script(self):
        d = self.start_daemon(retention=1)
        script = r"""
set -eu
cd "$1"
echo 1 > fork
child=$(cat fork)
ls vm | grep -qx "$child"
cat vm/$child/snapshot > /dev/null
cat vm/$child/creation_time > /dev/null
test "$(cat vm/$child/status)" = Running
( sleep 0.3; echo 9 > "$2/instances/$child/exit" ) &
echo 1 > vm/$child/wait
test "$(cat vm/$child/wait)" = 9
test "$(cat vm/$child/status)" = Stopped
sleep 2
if ls vm/$child 2>/dev/null; then echo "still there" >&2; exit 1; fi
wait
echo ok
"""
        _, out, _ = shell("sh -c '%s' walkthrough %s %s" % (script.replace("'", "'\\''"), d.ukp, d.sim),
                          timeout=20)
        self.assertEqual(out, "ok\n")


if __name__ == "__main__":
    import unittest
    unittest.main()
