"""The daemon survives its own death (SPEC.md, the daemon section): the server is killed
with SIGKILL at random moments (or upgraded) while clients read, fork, wait and poll, and
no client notices — no ENOTCONN or ECONNABORTED, reads stall briefly, every fork write
returns once with a child that exists, every waiter gets its child's exit code, and the
tree reads as before.

`UKP_CRASH_KILLS` (default 50) sets how many times the server is killed. The stalls
(median and max) are printed for docs/benchmarks.md."""

import errno
import os
import random
import select
import signal
import shutil
import statistics
import threading
import time

from harness import Blocked, DaemonTestCase, listdir, read_value, write_file, write_once, STEP, UUID_RE

KILLS = int(os.environ.get("UKP_CRASH_KILLS", "50"))
DISCONNECTED = (errno.ENOTCONN, errno.ECONNABORTED)


class SimControl:
    """Plays the children's apps through the simulator's control tree."""

    def __init__(self, daemon):
        self.d = daemon

    def exit(self, child, code):
        write_file(self.d.s("instances", child, "exit"), b"%d\n" % code)

    def move(self, child, state):
        write_file(self.d.s("instances", child, "status"), state.encode() + b"\n")


class Load:
    """Clients of one daemon, each on threads of its own, recording what they saw; the
    children's apps are played through `platform` (`exit(child, code)`, `move(child, state)`)."""

    def __init__(self, daemon, long_lived, platform):
        self.d = daemon
        self.long_lived = long_lived
        self.platform = platform
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.errors = []          # (what, errno) of every unexpected failure
        self.read_seconds = []    # every status read's duration
        self.forks = []           # children of successful fork writes
        self.fork_failures = []   # errnos of failed fork writes (SPEC errnos only)
        self.waits = {}           # child -> (exit code written, what its waiter got)
        self.polls = 0
        self.threads = []

    def run(self, target, *args):
        thread = threading.Thread(target=target, args=args, daemon=True)
        thread.start()
        self.threads.append(thread)

    def failed(self, what, error):
        with self.lock:
            self.errors.append((what, error.errno if isinstance(error, OSError) else repr(error)))

    def start(self):
        status = self.d.u("vm", self.long_lived, "status")
        self.run(self.reader_keeping_its_descriptor, status)
        self.run(self.reader_opening_each_time, status)
        self.run(self.reader_opening_each_time, self.d.u("fork"))
        self.run(self.forker)
        self.run(self.poller, status)
        self.run(self.status_mover)

    def finish(self):
        self.stop.set()
        for thread in self.threads:
            thread.join(STEP * 3)
        return [thread for thread in self.threads if thread.is_alive()]

    # clients

    def timed_read(self, fd):
        started = time.monotonic()
        data = os.pread(fd, 256, 0)
        with self.lock:
            self.read_seconds.append(time.monotonic() - started)
        return data

    def reader_keeping_its_descriptor(self, path):
        fd = os.open(path, os.O_RDONLY)
        try:
            while not self.stop.is_set():
                try:
                    self.timed_read(fd)
                except OSError as error:
                    self.failed("pread of a kept descriptor of %s" % path, error)
        finally:
            os.close(fd)

    def reader_opening_each_time(self, path):
        while not self.stop.is_set():
            try:
                fd = os.open(path, os.O_RDONLY)
                try:
                    self.timed_read(fd)
                finally:
                    os.close(fd)
            except OSError as error:
                self.failed("open and read of %s" % path, error)

    def forker(self):
        while not self.stop.is_set():
            try:
                fd = os.open(self.d.u("fork"), os.O_WRONLY)
                try:
                    written = os.write(fd, b"1")
                finally:
                    os.close(fd)
                if written != 1:
                    self.failed("fork write returned %r" % written, ValueError(written))
                    continue
                child = read_value(self.d.u("fork"))  # this thread's own result
                if not UUID_RE.match(child):
                    self.failed("fork result %r" % child, ValueError(child))
                    continue
                with self.lock:
                    self.forks.append(child)
                code = random.randrange(256)
                self.run(self.waiter, child, code)
                self.run(self.exiter, child, code)
            except OSError as error:
                if error.errno in (errno.EIO, errno.EBUSY):
                    with self.lock:
                        self.fork_failures.append(error.errno)
                else:
                    self.failed("fork write", error)
            time.sleep(random.uniform(0.01, 0.06))

    def waiter(self, child, code):
        path = self.d.u("vm", child, "wait")
        try:
            fd = os.open(path, os.O_RDWR)
            try:
                written = os.write(fd, b"1")  # blocks until the child stopped
                got = os.pread(fd, 16, 0).decode().strip()
            finally:
                os.close(fd)
            with self.lock:
                self.waits[child] = (str(code), got if written == 1 else "write returned %r" % written)
        except OSError as error:
            self.failed("wait on %s" % child, error)

    def exiter(self, child, code):
        time.sleep(random.uniform(0.05, 0.3))
        try:
            self.platform.exit(child, code)
        except OSError as error:
            self.failed("exit of %s" % child, error)

    def poller(self, path):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.pread(fd, 64, 0)
            poller = select.poll()
            poller.register(fd, select.POLLPRI)
            while not self.stop.is_set():
                try:
                    if poller.poll(200):
                        os.pread(fd, 64, 0)  # re-arm, as sysfs clients do
                        with self.lock:
                            self.polls += 1
                except OSError as error:
                    self.failed("poll of %s" % path, error)
        finally:
            os.close(fd)

    def status_mover(self):
        states = ["Template", "Running"]
        while not self.stop.is_set():
            try:
                self.platform.move(self.long_lived, states[0])
                states.reverse()
            except OSError as error:
                self.failed("status move", error)
            time.sleep(0.1)


class CrashSurvivalTests(DaemonTestCase):
    def check(self, d, load, before):
        stuck = load.finish()
        self.assertEqual(stuck, [], "clients still blocked after the load stopped")
        disconnected = [e for e in load.errors if e[1] in DISCONNECTED]
        self.assertEqual(disconnected, [], "a client saw the mount go away")
        self.assertEqual(load.errors, [], "clients saw errors")
        self.assertTrue(load.forks, "no fork succeeded")
        self.assertEqual(len(set(load.forks)), len(load.forks), "a fork returned a child twice")
        children = set(listdir(d.u("vm")))
        expected = set(load.forks) | {load.long_lived}
        self.assertEqual(children, expected, "the children are not exactly the successful forks\n"
                         + self.journal_lines(d, children ^ expected))
        for child in load.forks:
            self.assertTrue(os.path.isdir(d.u("vm", child)), child)
        for child, (code, got) in load.waits.items():
            self.assertEqual(got, code, "the waiter of %s got the wrong exit code" % child)
        self.assertEqual(len(load.waits), len(load.forks), "a waiter did not return")
        self.assertGreater(load.polls, 0, "no poll ever woke")
        # What the tree reads is what it read before one more restart.
        after = self.snapshot(d)
        os.kill(d.server_pid(), 9)
        self.assertEqual(self.snapshot(d), after, "the tree reads differently after a restart")
        self.assertLessEqual(set(before["vm"]), set(after["vm"]))
        seconds = sorted(load.read_seconds)
        median, worst = statistics.median(seconds) * 1000, seconds[-1] * 1000
        print("\nSTALL %s: %d reads, median %.2f ms, max %.0f ms; %d forks (%d failed: %s), %d waits, %d poll wake-ups"
              % (self._testMethodName, len(seconds), median, worst, len(load.forks), len(load.fork_failures),
                 sorted(set(load.fork_failures)), len(load.waits), load.polls), flush=True)
        self.assertLess(worst, 1500, "a read stalled %.0f ms" % worst)
        return median, worst

    def journal_lines(self, d, ids):
        """For a failure: the state journal's lines naming `ids` (the test's directory goes
        with it), and the daemon's log tail."""
        lines = []
        journal = os.path.join(d.state, "state.log")
        if ids and os.path.exists(journal):
            with open(journal, errors="replace") as f:
                lines = [line.rstrip() for line in f if any(i in line for i in ids)]
        return "journal lines naming them:\n%s\nlog tail:\n%s" % ("\n".join(lines[-40:]), d.stderr_text()[-3000:])

    def start_platform_and_daemon(self, *extra, binary=None):
        """The daemon on the sim platform, and what plays its children's apps."""
        d = self.start_daemon(*extra, retention=120, binary=binary)
        return d, SimControl(d)

    def snapshot(self, d):
        return {"vm": listdir(d.u("vm")), "fork": read_value(d.u("fork")), "generation": read_value(d.u("generation"))}

    def start_loaded(self, *extra, binary=None):
        d, platform = self.start_platform_and_daemon("--fork-queue-depth", "64", *extra, binary=binary)
        self.assertEqual(write_file(d.u("fork")), 2)
        long_lived = read_value(d.u("fork"))
        before = self.snapshot(d)
        load = Load(d, long_lived, platform)
        load.start()
        return d, load, before

    def test_sigkill_at_random_moments_under_load(self):
        d, load, before = self.start_loaded()
        servers = set()
        for _ in range(KILLS):
            time.sleep(random.uniform(0.15, 0.4))
            pid = d.server_pid()
            servers.add(pid)
            os.kill(pid, 9)
        time.sleep(0.5)
        self.check(d, load, before)
        self.assertEqual(len(servers), KILLS, "every kill hit a new server")
        self.assertIn("restart %d" % KILLS, d.stderr_text())

    def test_upgrade_replaces_the_binary_under_load(self):
        binary = os.path.join(self.dir, "ukp-fuse")
        shutil.copy2(self.daemon_binary(), binary)
        d, load, before = self.start_loaded(binary=binary)
        first = d.server_pid()
        for round in range(5):
            # A new binary on disk (a new inode at the same path), then `ukp-fuse upgrade`.
            replacement = binary + ".new"
            shutil.copy2(self.daemon_binary(), replacement)
            os.rename(replacement, binary)
            old = d.server_pid()
            upgrade = __import__("subprocess").run(
                [binary, "upgrade", "--mountpoint", d.ukp, "--state-dir", d.state],
                capture_output=True, text=True, timeout=STEP)
            self.assertEqual(upgrade.returncode, 0, upgrade.stderr)
            deadline = time.monotonic() + STEP
            while d.server_pid() == old and time.monotonic() < deadline:
                time.sleep(0.01)
            new = d.server_pid()
            self.assertNotEqual(new, old)
            self.assertEqual(os.stat("/proc/%d/exe" % new).st_ino, os.stat(binary).st_ino,
                             "the new server runs the binary now on disk")
            time.sleep(0.3)
        self.assertNotEqual(first, d.server_pid())
        self.check(d, load, before)

    def daemon_binary(self):
        from harness import BINARY
        return BINARY


if __name__ == "__main__":
    import unittest
    unittest.main()


class HeldRequestsFailTests(DaemonTestCase):
    """`--held-requests fail` (the default before Linux 6.9, which cannot resend): the
    server reads through its own clone of the connection's descriptor, so the requests it
    held when it died end with ECONNABORTED at once — instead of waiting, uninterruptibly,
    for an answer nobody would send — and the next server serves everything else."""

    def test_a_held_wait_fails_with_econnaborted_and_the_mount_serves_on(self):
        d = self.start_daemon("--held-requests", "fail", retention=120)
        self.assertIn("--held-requests fail", d.stderr_text(), "the daemon says what its servers' deaths do")
        self.assertEqual(write_file(d.u("fork")), 2)
        child = read_value(d.u("fork"))
        held = Blocked(write_once, d.u("vm", child, "wait"), b"1\n", os.O_WRONLY, name="wait")
        time.sleep(0.5)
        self.assertFalse(held.finished(), "the wait write returned before its child stopped")
        old = d.server_pid()
        os.kill(old, 9)
        with self.assertRaises(OSError) as raised:
            held.result(timeout=STEP)
        self.assertEqual(raised.exception.errno, errno.ECONNABORTED, raised.exception)
        # The mount stays and the next server answers, with the same state.
        deadline = time.monotonic() + STEP
        while d.server_pid() == old and time.monotonic() < deadline:
            time.sleep(0.01)
        self.assertEqual(read_value(d.u("fork")), child)
        self.assertIn(child, listdir(d.u("vm")))
        again = Blocked(write_once, d.u("vm", child, "wait"), b"1\n", os.O_WRONLY, name="wait again")
        time.sleep(0.3)
        write_file(d.s("instances", child, "exit"), b"5\n")
        self.assertEqual(again.result(), 2)
        self.assertEqual(read_value(d.u("vm", child, "wait")), "5")


class RestartDropsCachedAttributesTests(DaemonTestCase):
    """The kernel caches every node's attributes. A child cleaned up while no server ran
    (its retention ran out before the supervisor could start one) still answers `fstat` of
    a handle under it with ESTALE once a server is back: the new server makes the kernel
    drop the attributes of every node the dead one had named."""

    def test_fstat_under_a_child_cleaned_up_while_no_server_ran(self):
        d = self.start_daemon(retention=1)
        self.assertEqual(write_file(d.u("fork")), 2)
        child = read_value(d.u("fork"))
        fd = os.open(d.u("vm", child, "status"), os.O_RDONLY)
        try:
            os.fstat(fd)  # its attributes are cached in the kernel now
            write_file(d.s("instances", child, "exit"), b"0\n")
            server = d.server_pid()
            os.kill(d.pid, signal.SIGSTOP)  # no new server until the supervisor continues
            try:
                os.kill(server, signal.SIGKILL)
                time.sleep(2.5)  # past the retention: the next server cleans the child up
            finally:
                os.kill(d.pid, signal.SIGCONT)
            deadline = time.monotonic() + STEP
            while os.path.exists(d.u("vm", child)) and time.monotonic() < deadline:
                time.sleep(0.05)
            self.assertFalse(os.path.exists(d.u("vm", child)), "the child was not cleaned up")
            with self.assertRaises(OSError) as raised:
                os.fstat(fd)
            self.assertEqual(raised.exception.errno, errno.ESTALE, raised.exception)
        finally:
            os.close(fd)
