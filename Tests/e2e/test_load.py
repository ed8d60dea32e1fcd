"""Faults and load through the kernel (issue 7 item 3): injected fork failures, 1,000
threads forking on a queue of depth 16, many live children, many waiters on one child,
a client killed while blocked, SIGTERM with many blocked callers.

Sizes: 10,000 live children and 10,000 waiters, the issue's figures (about 15 s on a
2-core machine); UKP_E2E_MANY=N changes both."""

import errno
import os
import resource
import signal
import subprocess
import sys
import threading
import time

from harness import (STEP, UUID_RE, Blocked, DaemonTestCase, eventually, listdir, mounts_under, parked_thread,
                     read_value, wait_parked, write_file, write_once)

MANY = int(os.environ.get("UKP_E2E_MANY", "10000"))


def run_threads(count, body, stack=128 * 1024):
    """Starts `count` threads running `body(i)`; returns (threads, results list)."""
    results = [None] * count
    previous = threading.stack_size(stack)
    try:
        threads = []
        for i in range(count):
            def target(i=i):
                try:
                    results[i] = ("ok", body(i))
                except OSError as error:
                    results[i] = ("errno", error.errno)
                except BaseException as error:  # noqa: BLE001 - reported to the test
                    results[i] = ("error", repr(error))
            thread = threading.Thread(target=target, daemon=True)
            thread.start()
            threads.append(thread)
    finally:
        threading.stack_size(previous)
    return threads, results


def join_all(threads, timeout):
    deadline = time.monotonic() + timeout
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    return sum(thread.is_alive() for thread in threads)


class LoadTests(DaemonTestCase):

    def setUp(self):
        super().setUp()
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        wanted = min(hard, MANY + 4096) if hard != resource.RLIM_INFINITY else MANY + 4096
        if soft < wanted:
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
            self.addCleanup(resource.setrlimit, resource.RLIMIT_NOFILE, (soft, hard))

    def test_injected_fork_failures_nothing_appears_and_queue_goes_on(self):
        d = self.start_daemon()
        write_file(d.s("fork_latency_ms"), b"50\n")
        write_file(d.s("fail_next_forks"), b"3\n")
        gate = threading.Barrier(8)

        def fork(i):
            fd = os.open(d.u("fork"), os.O_RDWR)
            try:
                gate.wait(STEP)
                os.write(fd, b"1")
                return os.pread(fd, 4096, 0).decode().strip()
            finally:
                os.close(fd)
        threads, results = run_threads(8, fork)
        self.assertEqual(join_all(threads, 20), 0)
        failed = [r for r in results if r == ("errno", errno.EIO)]
        succeeded = [r[1] for r in results if r[0] == "ok"]
        self.assertEqual(len(failed), 3, results)
        self.assertEqual(len(succeeded), 5, results)
        self.assertEqual(sorted(listdir(d.u("vm"))), sorted(succeeded))
        self.assertEqual(read_value(d.s("fail_next_forks")), "0")
        self.assertEqual(len(listdir(d.s("instances"))), 6)

    def test_thousand_threads_fork_at_once_queue_depth_16(self):
        d = self.start_daemon("--fork-queue-depth", "16")
        write_file(d.s("fork_latency_ms"), b"2\n")
        count = 1000
        gate = threading.Barrier(count)

        def fork(i):
            fd = os.open(d.u("fork"), os.O_RDWR)
            try:
                gate.wait(30)
                self.assertEqual(os.write(fd, b"1"), 1)
                return os.pread(fd, 4096, 0).decode().strip()
            finally:
                os.close(fd)
        started = time.monotonic()
        threads, results = run_threads(count, fork)
        self.assertEqual(join_all(threads, 50), 0, "fork threads still blocked")
        elapsed = time.monotonic() - started
        succeeded = [r[1] for r in results if r[0] == "ok"]
        busy = [r for r in results if r == ("errno", errno.EBUSY)]
        self.assertEqual(len(succeeded) + len(busy), count, [r for r in results if r[0] != "ok" and r not in busy][:5])
        self.assertGreaterEqual(len(succeeded), 17, "at least the running fork and a full queue succeed")
        for child in succeeded:
            self.assertRegex(child, UUID_RE)
        # every successful request forked exactly once, and each thread read its own child
        vm = listdir(d.u("vm"))
        self.assertEqual(len(vm), len(succeeded))
        self.assertEqual(len(set(succeeded)), len(succeeded))
        self.assertEqual(set(vm), set(succeeded))
        print("\n  1000 threads: %d forked, %d EBUSY in %.1fs" % (len(succeeded), len(busy), elapsed), end=" ")

    def test_many_live_children(self):
        d = self.start_daemon()
        started = time.monotonic()

        def fork_many():
            fd = os.open(d.u("fork"), os.O_WRONLY)
            try:
                for _ in range(MANY):
                    os.write(fd, b"1")
            finally:
                os.close(fd)
        Blocked(fork_many, name="fork-many").result(120)
        forked = time.monotonic() - started
        vm = Blocked(os.listdir, d.u("vm")).result(30)
        self.assertEqual(len(vm), MANY)
        self.assertEqual(len(set(vm)), MANY)
        self.assertEqual(vm[-1], read_value(d.u("fork")))
        self.assertEqual(len(listdir(d.s("instances"), timeout=30)), MANY + 1)
        for child in (vm[0], vm[MANY // 2], vm[-1]):
            self.assertEqual(read_value(d.u("vm", child, "status")), "Running")
        # the last child can still exit and be waited for
        write_file(d.s("instances", vm[0], "exit"), b"1\n")
        self.assertEqual(read_value(d.u("vm", vm[0], "wait")), "1")
        print("\n  %d children forked in %.1fs, listed in %.2fs" % (MANY, forked, time.monotonic() - started - forked),
              end=" ")

    def test_many_waiters_on_one_child_all_released(self):
        d = self.start_daemon()
        child = self.fork(d)
        wait_path = d.u("vm", child, "wait")
        ready = threading.Semaphore(0)

        def wait(i):
            fd = os.open(wait_path, os.O_WRONLY)
            try:
                ready.release()
                return os.write(fd, b"1")
            finally:
                os.close(fd)
        started = time.monotonic()
        threads, results = run_threads(MANY, wait, stack=64 * 1024)
        for _ in range(MANY):
            self.assertTrue(ready.acquire(timeout=30), "waiters did not all open")
        time.sleep(0.5)
        self.assertEqual(sum(r is not None for r in results), 0, "a waiter returned before the exit")
        parked = time.monotonic() - started
        # the daemon still answers other requests
        self.assertEqual(read_value(d.u("vm", child, "status")), "Running")
        released = time.monotonic()
        # thousands of threads woken at once fight for the GIL; a long switch interval
        # keeps them from waking each other every 5 ms
        interval = sys.getswitchinterval()
        sys.setswitchinterval(1.0)
        try:
            write_file(d.s("instances", child, "exit"), b"0\n", timeout=30)
            self.assertEqual(join_all(threads, 60), 0, "waiters still blocked after the exit")
        finally:
            sys.setswitchinterval(interval)
        self.assertEqual(results, [("ok", 1)] * MANY)
        print("\n  %d waiters parked in %.1fs, released in %.2fs" % (MANY, parked, time.monotonic() - released),
              end=" ")

    def test_client_killed_while_blocked_leaks_nothing(self):
        d = self.start_daemon("--fork-queue-depth", "1")
        child = self.fork(d)
        write_file(d.s("fork_latency_ms"), b"1000\n")
        running = Blocked(write_once, d.u("fork"), b"1", os.O_WRONLY, name="fork-running")
        wait_parked(running)
        # `1<>`: no O_TRUNC, so the request reaches the daemon's queue (see test_o_trunc)
        queued = subprocess.Popen(["sh", "-c", "echo 1 1<> fork"], cwd=d.ukp, stderr=subprocess.DEVNULL)
        waiter = subprocess.Popen(["sh", "-c", "echo 1 > vm/%s/wait" % child], cwd=d.ukp, stderr=subprocess.DEVNULL)
        wait_parked(queued, waiter)
        self.assertIsNone(queued.poll())
        self.assertIsNone(waiter.poll())
        queued.kill()
        waiter.kill()
        self.assertEqual(queued.wait(STEP), -signal.SIGKILL)
        self.assertEqual(waiter.wait(STEP), -signal.SIGKILL)
        self.assertEqual(running.result(), 1)
        time.sleep(1.2)  # what the killed request's fork would have taken
        self.assertEqual(len(listdir(d.u("vm"))), 2, "the killed client's queued fork ran anyway")
        # the queue slot came back: one running plus one queued both succeed
        first = Blocked(write_once, d.u("fork"), b"1", os.O_WRONLY, name="fork-again-1")
        wait_parked(first)
        time.sleep(0.1)
        second = Blocked(write_once, d.u("fork"), b"1", os.O_WRONLY, name="fork-again-2")
        self.assertEqual(first.result(), 1)
        self.assertEqual(second.result(), 1)
        self.assertEqual(len(listdir(d.u("vm"))), 4)
        # waiters still work on the child the killed client waited for
        other = Blocked(write_once, d.u("vm", child, "wait"), b"1", os.O_WRONLY, name="wait")
        write_file(d.s("instances", child, "exit"), b"6\n")
        self.assertEqual(other.result(), 1)

    def test_sigterm_with_many_blocked_callers(self):
        d = self.start_daemon("--fork-queue-depth", "16")
        child = self.fork(d)
        write_file(d.s("fork_latency_ms"), b"10000\n")
        waiters = 500

        def wait(i):
            fd = os.open(d.u("vm", child, "wait"), os.O_WRONLY)
            try:
                return os.write(fd, b"1")
            finally:
                os.close(fd)

        def fork(i):
            fd = os.open(d.u("fork"), os.O_WRONLY)
            try:
                return os.write(fd, b"1")
            finally:
                os.close(fd)
        wait_threads, wait_results = run_threads(waiters, wait)
        fork_threads, fork_results = run_threads(40, fork)
        # every caller is either parked in the daemon or already refused (EBUSY)
        for thread, results, i in [(t, wait_results, i) for i, t in enumerate(wait_threads)] + \
                [(t, fork_results, i) for i, t in enumerate(fork_threads)]:
            eventually(lambda: results[i] is not None or
                       parked_thread(thread), timeout=30, message="caller parked")
        busy = [r for r in fork_results if r == ("errno", errno.EBUSY)]
        self.assertEqual(len(busy), 40 - 17, fork_results)
        d.signal(signal.SIGTERM)
        self.assertEqual(join_all(wait_threads + fork_threads, 20), 0, "callers still blocked after SIGTERM")
        self.assertEqual(d.wait(), 0, d.stderr_text())
        self.assertEqual(wait_results, [("errno", errno.EIO)] * waiters)
        self.assertEqual(sorted(r for r in fork_results if r not in busy), [("errno", errno.EIO)] * 17)
        self.assertEqual(mounts_under(self.dir), [])


if __name__ == "__main__":
    import unittest
    unittest.main()
