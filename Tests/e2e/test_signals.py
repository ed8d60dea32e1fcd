"""Signals: to blocked callers (EINTR) and to the daemon (SIGTERM/SIGINT: EIO, exit 0,
no mount left; SIGKILL: a new daemon on the same mount point serves)."""

import errno
import os
import select
import signal
import subprocess
import threading
import time

from harness import (STEP, UUID_RE, Blocked, DaemonTestCase, errno_of, listdir, mounts_under, poll_fd, raw_write,
                     read_file, read_value, timed, wait_parked, write_file, write_once)


def open_and_raw_write(path, data=b"1"):
    fd = os.open(path, os.O_WRONLY)
    try:
        return raw_write(fd, data)
    finally:
        os.close(fd)


def auto_unmount_helpers(daemon_pid, mountpoint):
    """The fusermount3 processes libfuse's auto_unmount started for this daemon's mount."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % entry, "rb") as f:
                argv = f.read().split(b"\0")
            with open("/proc/%s/stat" % entry) as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        if argv and argv[0].endswith(b"fusermount3") and mountpoint.encode() in argv and ppid == daemon_pid:
            found.append(int(entry))
    return found


class CallerSignalTests(DaemonTestCase):

    def setUp(self):
        super().setUp()
        previous = signal.signal(signal.SIGUSR1, lambda signum, frame: None)
        self.addCleanup(signal.signal, signal.SIGUSR1, previous)

    def interrupt(self, call, timeout=5.0):
        """Sends SIGUSR1 to the thread of `call` until its blocked write returns."""
        deadline = time.monotonic() + timeout
        while not call.finished(0.1):
            if time.monotonic() > deadline:
                self.fail("signalled write did not return within %.0fs" % timeout)
            signal.pthread_kill(call.ident, signal.SIGUSR1)

    def test_waiter_interrupted_by_signal_gets_eintr(self):
        d = self.start_daemon()
        child = self.fork(d)
        wait_path = d.u("vm", child, "wait")
        victim = Blocked(open_and_raw_write, wait_path, name="wait-victim")
        other = Blocked(open_and_raw_write, wait_path, name="wait-other")
        wait_parked(victim, other)
        self.assertFalse(victim.finished())
        self.interrupt(victim)
        self.assertEqual(victim.errno(), errno.EINTR)
        # nothing else changed: the child runs, the other waiter still waits
        self.assertEqual(read_value(d.u("vm", child, "status")), "Running")
        self.assertEqual(read_file(wait_path), "")
        self.assertFalse(other.finished(0.2))
        write_file(d.s("instances", child, "exit"), b"4\n")
        self.assertEqual(other.result(), 1)
        self.assertEqual(read_value(wait_path), "4")

    def test_os_write_in_main_thread_is_interrupted_by_a_raising_handler(self):
        """The plain `os.write` form: Python retries EINTR in other threads (PEP 475), so
        here the main thread blocks and a handler that raises ends the interrupted write."""
        class Interrupted(Exception):
            pass

        def raise_interrupted(signum, frame):
            raise Interrupted()
        d = self.start_daemon()
        child = self.fork(d)
        fd = timed(os.open, d.u("vm", child, "wait"), os.O_WRONLY)
        self.addCleanup(os.close, fd)
        previous = signal.signal(signal.SIGUSR2, raise_interrupted)
        self.addCleanup(signal.signal, signal.SIGUSR2, previous)
        main = threading.get_ident()
        stop = threading.Event()

        def keep_signalling():
            time.sleep(0.3)
            while not stop.wait(0.2):
                signal.pthread_kill(main, signal.SIGUSR2)
        threading.Thread(target=keep_signalling, daemon=True).start()
        started = time.monotonic()
        try:
            with self.assertRaises(Interrupted):
                os.write(fd, b"1")  # blocks: the child runs (the watchdog guards a hang)
        finally:
            stop.set()
        self.assertGreaterEqual(time.monotonic() - started, 0.25, "the write did not block")
        self.assertEqual(read_value(d.u("vm", child, "status")), "Running")
        self.assertEqual(read_file(d.u("vm", child, "wait")), "")

    def test_queued_fork_interrupted_gets_eintr_and_forks_nothing(self):
        d = self.start_daemon()
        write_file(d.s("fork_latency_ms"), b"3000\n")
        running = Blocked(open_and_raw_write, d.u("fork"), name="fork-running")
        wait_parked(running)
        time.sleep(0.1)
        queued = Blocked(open_and_raw_write, d.u("fork"), name="fork-queued")
        wait_parked(queued)
        self.assertFalse(queued.finished())
        self.interrupt(queued)
        self.assertEqual(queued.errno(), errno.EINTR)
        self.assertFalse(running.finished(), "the queued request was interrupted after the running fork")
        self.assertEqual(running.result(), 1)
        time.sleep(3.3)  # what the interrupted request would have taken
        self.assertEqual(len(listdir(d.u("vm"))), 1)

    def test_running_fork_is_not_interruptible(self):
        d = self.start_daemon()
        write_file(d.s("fork_latency_ms"), b"800\n")
        call = Blocked(open_and_raw_write, d.u("fork"), name="fork-signalled")
        wait_parked(call)
        time.sleep(0.1)
        for _ in range(3):
            signal.pthread_kill(call.ident, signal.SIGUSR1)
            time.sleep(0.05)
        self.assertEqual(call.result(), 1)
        self.assertEqual(len(listdir(d.u("vm"))), 1)
        self.assertRegex(read_value(d.u("fork")), UUID_RE)


class DaemonSignalTests(DaemonTestCase):

    def test_sigterm_answers_blocked_fork_and_wait_with_eio(self):
        d = self.start_daemon()
        child = self.fork(d)
        # `1<>`, not `>`: see test_o_trunc for what O_TRUNC does to the other waiters
        shell_waiter = subprocess.Popen(["bash", "-c", "echo 1 1<> vm/%s/wait" % child], cwd=d.ukp,
                                        stderr=subprocess.PIPE)
        self.addCleanup(lambda: shell_waiter.poll() is None and shell_waiter.kill())
        wait_parked(shell_waiter)
        write_file(d.s("fork_latency_ms"), b"5000\n")
        blocked = [Blocked(write_once, d.u("fork"), b"1", os.O_WRONLY, name="fork-running")]
        wait_parked(*blocked)
        blocked += [Blocked(write_once, d.u("fork"), b"1", os.O_WRONLY, name="fork-queued-%d" % i)
                    for i in range(2)]
        blocked += [Blocked(write_once, d.u("vm", child, "wait"), b"1", os.O_WRONLY, name="wait-%d" % i)
                    for i in range(3)]
        wait_parked(shell_waiter, *blocked)
        self.assertFalse(any(call.finished() for call in blocked))
        d.signal(signal.SIGTERM)
        for call in blocked:
            self.assertEqual(call.errno(timeout=STEP), errno.EIO, call.thread.name)
        self.assertEqual(d.wait(), 0, d.stderr_text())
        self.assertNotEqual(shell_waiter.wait(STEP), 0)
        self.assertIn("Input/output error", shell_waiter.stderr.read().decode())
        shell_waiter.stderr.close()
        self.assertEqual(mounts_under(self.dir), [])

    def test_poll_on_status_returns_when_the_daemon_stops(self):
        d = self.start_daemon()
        child = self.fork(d)
        fd = os.open(d.u("vm", child, "status"), os.O_RDONLY)
        self.addCleanup(os.close, fd)
        self.assertEqual(timed(os.read, fd, 4096), b"Running\n")
        poller = Blocked(poll_fd, fd, select.POLLPRI | select.POLLIN, 20000, name="poll-status")
        time.sleep(0.3)
        self.assertFalse(poller.finished())
        d.signal(signal.SIGTERM)
        self.assertNotEqual(poller.result(timeout=STEP), 0, "poll slept through the daemon's shutdown")
        self.assertEqual(d.wait(), 0)

    def test_sigint_unmounts_and_exits_zero(self):
        d = self.start_daemon()
        self.fork(d)
        d.signal(signal.SIGINT)
        self.assertEqual(d.wait(), 0, d.stderr_text())
        self.assertEqual(mounts_under(self.dir), [])
        # the mount points are plain directories again
        self.assertEqual(os.listdir(d.ukp), [])

    def test_sigkill_mid_fork_then_restart_on_same_mount_point(self):
        d = self.start_daemon()
        child = self.fork(d)
        write_file(d.s("fork_latency_ms"), b"5000\n")
        forking = Blocked(write_once, d.u("fork"), b"1", os.O_WRONLY, name="fork-mid")
        waiting = Blocked(write_once, d.u("vm", child, "wait"), b"1", os.O_WRONLY, name="wait")
        wait_parked(forking, waiting)
        d.signal(signal.SIGKILL)
        self.assertEqual(d.wait(), -signal.SIGKILL)
        # the blocked callers are released with an error, not left hanging
        for call in (forking, waiting):
            self.assertIsNotNone(call.errno(timeout=STEP), call.thread.name)
        # a new daemon on the same mount points clears whatever was left and serves; the
        # state directory (kept: the supervisor died, nobody stopped it) gives it the
        # instance's children and results back; the fork that was in flight never happened
        again = self.start_daemon()
        self.assertEqual(again.ukp, d.ukp)
        self.assertEqual(listdir(again.u("vm")), [child])
        self.assertEqual(read_file(again.u("fork")), child + "\n")
        self.assertEqual(read_value(again.s("fork_latency_ms")), "5000", "the simulator's settings are kept too")
        write_file(again.s("fork_latency_ms"), b"0\n")
        fresh = self.fork(again)
        self.assertNotEqual(fresh, child)
        self.assertEqual(len(listdir(again.s("instances"))), 3)
        # exactly one mount per path (nothing stacked or stale)
        self.assertEqual(sorted(mounts_under(self.dir)), sorted([again.ukp, again.sim]))
        again.signal(signal.SIGTERM)
        self.assertEqual(again.wait(), 0)
        self.assertEqual(mounts_under(self.dir), [])

    def test_stale_mount_is_cleared_at_start(self):
        """A daemon killed together with its auto-unmount helper (e.g. a whole cgroup
        SIGKILLed) leaves "Transport endpoint is not connected"; the next start clears it
        instead of mounting on top of it."""
        d = self.start_daemon(sim=False)
        helpers = auto_unmount_helpers(d.pid, d.ukp)
        self.assertTrue(helpers, "no fusermount3 auto_unmount helper found for the daemon")
        for pid in helpers:
            os.kill(pid, signal.SIGSTOP)  # so that it cannot unmount when the daemon dies
        d.kill()
        for pid in helpers:
            os.kill(pid, signal.SIGKILL)
        time.sleep(0.3)
        self.assertEqual(mounts_under(self.dir), [d.ukp])
        self.assertEqual(errno_of(os.statvfs, d.ukp), errno.ENOTCONN, "the mount is not stale")
        self.expect_leftover_mounts = True
        again = self.start_daemon(sim=False)
        self.assertEqual(sorted(listdir(again.u())), ["fork", "generation", "vm"])
        self.assertEqual(mounts_under(self.dir), [again.ukp],
                         "the stale mount was not cleared: the new mount is stacked on top of it")
        again.signal(signal.SIGTERM)
        self.assertEqual(again.wait(), 0)
        self.assertEqual(mounts_under(self.dir), [])

    def test_sigkill_leaves_no_dead_mount_for_clients(self):
        d = self.start_daemon()
        d.kill()
        # either auto-unmounted or at worst ENOTCONN, never a hang (ECONNABORTED for a request
        # the server had read when it went: the supervisor's death takes the server with it)
        try:
            Blocked(os.listdir, d.ukp).result(STEP)
        except OSError as error:
            self.assertIn(error.errno, (errno.ENOTCONN, errno.ECONNABORTED))
        again = self.start_daemon()
        self.assertEqual(sorted(listdir(again.u())), ["fork", "generation", "vm"])


if __name__ == "__main__":
    import unittest
    unittest.main()
