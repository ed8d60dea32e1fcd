"""Harness for the end-to-end tests of ukp-fuse through the kernel.

Standard library only. Each test gets its own temporary directory and its own daemon
(`ukp` and `sim` mounts inside it), a watchdog that kills the daemon if the test runs
too long (which releases every caller blocked in the kernel), and a cleanup that
always stops the daemon and lazily unmounts whatever is left under its directory.

The daemon binary is `$UKP_FUSE` (default `.build/debug/ukp-fuse` in the repository).
"""

import contextlib
import ctypes
import errno
import os
import re
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import unittest

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BINARY = os.path.abspath(os.path.join(REPO, os.environ.get("UKP_FUSE", ".build/debug/ukp-fuse")))
FUSE_DEVICE = os.environ.get("UKP_FUSE_DEVICE", "/dev/fuse")  # override to rehearse the skip path
FUSE_AVAILABLE = os.path.exists(FUSE_DEVICE)
SKIP_REASON = "SKIPPED: /dev/fuse missing: every kernel-mount end-to-end test is skipped"

UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
ZERO_UUID = "00000000-0000-0000-0000-000000000000"
STATES = ("Starting", "Running", "Draining", "Stopping", "Stopped", "Template")

# Seconds a whole test may take before the watchdog kills its daemon.
WATCHDOG_SECONDS = float(os.environ.get("UKP_E2E_WATCHDOG", "60"))
# Default timeout of any single blocking step.
STEP = 10.0

_loud_skip_printed = False


def loud_skip(test):
    """Prints the skip banner to stderr (once per run) and skips `test`."""
    global _loud_skip_printed
    if not _loud_skip_printed:
        print("\n!!!!!!!! %s (%s) !!!!!!!!" % (SKIP_REASON, FUSE_DEVICE), file=sys.stderr, flush=True)
        _loud_skip_printed = True
    raise unittest.SkipTest(SKIP_REASON)


# --------------------------------------------------------------------------- mounts

def mounts_under(directory):
    """Mount points in /proc/mounts at or below `directory`, deepest first."""
    directory = os.path.realpath(directory)
    found = []
    with open("/proc/mounts") as mounts:
        for line in mounts:
            fields = line.split()
            if len(fields) < 2:
                continue
            point = fields[1].replace("\\040", " ").replace("\\011", "\t").replace("\\134", "\\")
            if point == directory or point.startswith(directory + "/"):
                found.append(point)
    return sorted(found, key=len, reverse=True)


def force_unmount(directory):
    """Lazily unmounts everything at or below `directory`; returns what was found."""
    left = mounts_under(directory)
    for point in left:
        for command in (["fusermount3", "-u", "-z", point], ["umount", "-l", point]):
            try:
                done = subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=STEP)
            except (OSError, subprocess.TimeoutExpired):
                continue
            if done.returncode == 0:
                break
    return left


# --------------------------------------------------------------------------- daemon

class Daemon:
    """One ukp-fuse process serving `DIR/ukp` (and `DIR/sim` unless `sim=False`)."""

    def __init__(self, directory, *extra, sim=True, retention=2, mountpoint=None, sim_control=None, binary=None):
        self.directory = directory
        self.ukp = mountpoint or os.path.join(directory, "ukp")
        self.sim = (sim_control or os.path.join(directory, "sim")) if sim else None
        # the state directory lives with the test (not under /run/ukp), one per mount point
        self.state = os.path.join(directory, "state-" + self.ukp.strip("/").replace("/", "-"))
        self.args = [binary or BINARY, "--mountpoint", self.ukp]
        if "--state-dir" not in extra:
            self.args += ["--state-dir", self.state]
        if self.sim:
            self.args += ["--sim-control", self.sim]
        if retention is not None:
            self.args += ["--stopped-retention", str(retention)]
        self.args += list(extra)
        self.process = None
        self.stdout_lines = []
        self._serving = threading.Event()
        self._stdout_done = threading.Event()
        self.stderr_path = os.path.join(directory, "daemon-%d.stderr" % time.monotonic_ns())

    def start(self, timeout=STEP):
        """Starts the daemon and waits for `ukp-fuse: serving PATH` on stdout."""
        self._stderr = open(self.stderr_path, "wb")
        self.process = subprocess.Popen(self.args, stdout=subprocess.PIPE, stderr=self._stderr, stdin=subprocess.DEVNULL)
        threading.Thread(target=self._read_stdout, daemon=True).start()
        deadline = time.monotonic() + timeout
        while not self._serving.wait(0.05):
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError("daemon did not print 'ukp-fuse: serving %s' (exit %r)\nstdout: %r\nstderr: %s"
                                     % (self.ukp, self.process.poll(), self.stdout_lines, self.stderr_text()))
        return self

    def _read_stdout(self):
        for raw in self.process.stdout:
            line = raw.decode(errors="replace").rstrip("\n")
            self.stdout_lines.append(line)
            if line == "ukp-fuse: serving %s" % self.ukp:
                self._serving.set()
        self._stdout_done.set()

    def stderr_text(self):
        try:
            with open(self.stderr_path, "rb") as f:
                return f.read().decode(errors="replace")
        except OSError:
            return ""

    @property
    def pid(self):
        return self.process.pid

    def server_pid(self, timeout=STEP):
        """The pid of the server process the supervisor runs now (waits for one)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for name in os.listdir("/proc"):
                if not name.isdigit():
                    continue
                try:
                    with open("/proc/%s/stat" % name) as f:
                        fields = f.read().rsplit(")", 1)[1].split()
                    with open("/proc/%s/cmdline" % name, "rb") as f:
                        argv = f.read().split(b"\0")
                except OSError:
                    continue
                if int(fields[1]) == self.pid and fields[0] != "Z" and b"serve-connection" in argv:
                    return int(name)
            time.sleep(0.005)
        raise AssertionError("no server process under supervisor %d; its log ends:\n%s"
                             % (self.pid, self.stderr_text()[-2000:]))

    def signal(self, signum):
        if self.process and self.process.poll() is None:
            os.kill(self.process.pid, signum)

    def wait(self, timeout=STEP):
        """Exit status of the daemon; raises subprocess.TimeoutExpired."""
        code = self.process.wait(timeout=timeout)
        self._stdout_done.wait(2)
        return code

    def kill(self):
        """SIGKILL: the kernel aborts the connection, every blocked caller is released."""
        if self.process and self.process.poll() is None:
            self.process.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=STEP)

    def stop(self):
        """SIGTERM, wait, SIGKILL if needed; returns the exit status. Sets
        `self.shutdown_problem` when a running daemon did not exit 0 on SIGTERM in time."""
        self.shutdown_problem = None
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.signal(signal.SIGTERM)
            try:
                code = self.process.wait(timeout=STEP)
                if code != 0:
                    self.shutdown_problem = "exited %d on SIGTERM" % code
            except subprocess.TimeoutExpired:
                self.shutdown_problem = "still running %.0fs after SIGTERM (killed)" % STEP
                self.kill()
        with contextlib.suppress(Exception):
            self.process.stdout.close()
        with contextlib.suppress(Exception):
            self._stderr.close()
        return self.process.returncode

    # paths
    def u(self, *parts):
        """A path in the ukp tree."""
        return os.path.join(self.ukp, *parts)

    def s(self, *parts):
        """A path in the simulator's control tree."""
        return os.path.join(self.sim, *parts)


# --------------------------------------------------------------------------- blocking helpers

class Blocked:
    """Runs `fn` on a daemon thread; `result(timeout)` returns its value or raises its
    exception; a step that does not finish in time fails the test instead of hanging."""

    def __init__(self, fn, *args, name=None):
        self.value = None
        self.error = None
        self.done = threading.Event()
        self.started = threading.Event()
        self.ident = None

        def body():
            self.ident = threading.get_ident()
            self.native_id = threading.get_native_id()
            self.started.set()
            try:
                self.value = fn(*args)
            except BaseException as error:  # noqa: BLE001 - reported to the test
                self.error = error
            finally:
                self.done.set()

        self.thread = threading.Thread(target=body, daemon=True, name=name)
        self.thread.start()
        self.started.wait(STEP)

    def finished(self, timeout=0.0):
        return self.done.wait(timeout)

    def result(self, timeout=STEP):
        if not self.done.wait(timeout):
            raise AssertionError("blocking call %s did not return within %.1fs" % (self.thread.name, timeout))
        if self.error is not None:
            raise self.error
        return self.value

    def errno(self, timeout=STEP):
        """The errno the call failed with, or None if it succeeded."""
        try:
            self.result(timeout)
        except OSError as error:
            return error.errno
        return None


def _wchan(path):
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return None


_wchan_works = None


def _wchan_available():
    """Whether /proc/PID/wchan names kernel functions here (a sleeping `sleep` shows one)."""
    global _wchan_works
    if _wchan_works is None:
        sleeper = subprocess.Popen(["sleep", "5"])
        try:
            deadline = time.monotonic() + 2
            state = None
            while time.monotonic() < deadline:
                state = _wchan("/proc/%d/wchan" % sleeper.pid)
                if state not in (None, "", "0"):
                    break
                time.sleep(0.01)
            _wchan_works = state not in (None, "", "0")
        finally:
            sleeper.kill()
            sleeper.wait()
    return _wchan_works


def parked_thread(thread):
    """Whether a `threading.Thread` of this process sleeps waiting for a FUSE answer."""
    if not _wchan_available():
        return True
    return _wchan("/proc/self/task/%d/wchan" % thread.native_id) == "request_wait_answer"


def wait_parked(*callers, timeout=STEP):
    """Waits until every caller (a `Blocked` call or a subprocess) sleeps in the kernel
    waiting for the FUSE daemon's answer (`wchan` is `request_wait_answer`), so that a
    following step (a signal, a shutdown) surely finds it blocked in the daemon. Falls back
    to a short sleep where the kernel hides `wchan`."""
    paths = []
    for caller in callers:
        if isinstance(caller, Blocked):
            paths.append("/proc/self/task/%d/wchan" % caller.native_id)
        else:
            paths.append("/proc/%d/wchan" % caller.pid)
    if not _wchan_available():
        time.sleep(1.0)
        return
    deadline = time.monotonic() + timeout
    while True:
        states = [_wchan(path) for path in paths]
        if all(state == "request_wait_answer" for state in states):
            return
        if time.monotonic() > deadline:
            raise AssertionError("callers not parked in the daemon within %.0fs: %s" % (timeout, states))
        time.sleep(0.01)


def timed(fn, *args, timeout=STEP):
    """Calls `fn(*args)` on a helper thread, failing if it does not return in time."""
    return Blocked(fn, *args, name=getattr(fn, "__name__", "call")).result(timeout)


def read_file(path, timeout=STEP):
    def body():
        fd = os.open(path, os.O_RDONLY)
        try:
            return os.read(fd, 65536)
        finally:
            os.close(fd)
    return timed(body, timeout=timeout).decode()


def read_value(path, timeout=STEP):
    """Reads a one-value file and checks it is ASCII with exactly one trailing newline."""
    text = read_file(path, timeout)
    if text == "":
        return ""
    if not text.endswith("\n") or "\n" in text[:-1]:
        raise AssertionError("%s: not one value plus a single newline: %r" % (path, text))
    return text[:-1]


def write_once(path, data=b"1\n", flags=os.O_WRONLY):
    """open + one write(2) + close on the calling thread; returns the byte count."""
    fd = os.open(path, flags)
    try:
        return os.write(fd, data)
    finally:
        os.close(fd)


def write_file(path, data=b"1\n", flags=os.O_WRONLY, timeout=STEP):
    """`write_once` on a helper thread, failing if it does not return in time."""
    return timed(write_once, path, data, flags, timeout=timeout)


def shell(command, cwd=None, timeout=STEP, check=True, program="sh"):
    """Runs `sh -c command` (or `program -c`); returns (returncode, stdout, stderr).
    dash's `echo` says "I/O error" for every write error; bash names the errno."""
    done = subprocess.run([program, "-c", command], cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          timeout=timeout, stdin=subprocess.DEVNULL)
    out, err = done.stdout.decode(errors="replace"), done.stderr.decode(errors="replace")
    if check and done.returncode != 0:
        raise AssertionError("sh -c %r exited %d\nstdout: %s\nstderr: %s" % (command, done.returncode, out, err))
    return done.returncode, out, err


def listdir(path, timeout=STEP):
    return timed(os.listdir, path, timeout=timeout)


def eventually(predicate, timeout=STEP, interval=0.02, message="condition"):
    """Polls `predicate` until it returns a truthy value; fails after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("%s not reached within %.1fs" % (message, timeout))
        time.sleep(interval)


def errno_of(fn, *args, timeout=STEP):
    """The errno `fn(*args)` fails with (on a helper thread), or None if it succeeds."""
    return Blocked(fn, *args, name=getattr(fn, "__name__", "call")).errno(timeout)


# --------------------------------------------------------------------------- raw write(2)

_libc = ctypes.CDLL(None, use_errno=True)
_libc.write.argtypes = (ctypes.c_int, ctypes.c_void_p, ctypes.c_size_t)
_libc.write.restype = ctypes.c_ssize_t


def raw_write(fd, data):
    """write(2) without Python's EINTR retry (PEP 475 retries in non-main threads);
    returns the byte count or raises OSError with the real errno, EINTR included."""
    buffer = ctypes.create_string_buffer(data, len(data))
    count = _libc.write(fd, buffer, len(data))
    if count < 0:
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code))
    return count


# --------------------------------------------------------------------------- test case

class DaemonTestCase(unittest.TestCase):
    """Base class: a temporary directory, a watchdog, and cleanup in every outcome."""

    needs_fuse = True

    def setUp(self):
        if self.needs_fuse and not FUSE_AVAILABLE:
            loud_skip(self)
        if not os.access(BINARY, os.X_OK):
            self.fail("daemon binary %s is missing: build it (swift build --product ukp-fuse) or set UKP_FUSE"
                      % BINARY)
        self.dir = tempfile.mkdtemp(prefix="ukp-e2e-%s-" % self._testMethodName)
        self.daemons = []
        self.addCleanup(self._cleanup)
        self.watchdog_fired = False
        self._watchdog = threading.Timer(WATCHDOG_SECONDS, self._on_watchdog)
        self._watchdog.daemon = True
        self._watchdog.start()

    def _on_watchdog(self):
        self.watchdog_fired = True
        print("\nWATCHDOG: %s exceeded %.0fs: killing its daemons" % (self.id(), WATCHDOG_SECONDS),
              file=sys.stderr, flush=True)
        for daemon in self.daemons:
            daemon.kill()
        force_unmount(self.dir)

    def _cleanup(self):
        self._watchdog.cancel()
        problems = []
        for daemon in self.daemons:
            daemon.stop()
            if daemon.shutdown_problem and not self.watchdog_fired:
                problems.append("daemon %s: %s\n%s" % (daemon.ukp, daemon.shutdown_problem,
                                                       daemon.stderr_text()[-1500:]))
        left = force_unmount(self.dir)
        stuck = mounts_under(self.dir)
        if not stuck:
            shutil.rmtree(self.dir, ignore_errors=True)
        else:
            raise AssertionError("mounts left in /proc/mounts after cleanup: %s" % stuck)
        if self.watchdog_fired:
            raise AssertionError("watchdog fired: the test hung and its daemon was killed")
        if problems:
            raise AssertionError("graceful shutdown failed: " + "\n".join(problems))
        if left and not getattr(self, "expect_leftover_mounts", False):
            print("\nwarning: %s left mounts behind after its daemons stopped: %s" % (self.id(), left),
                  file=sys.stderr, flush=True)

    def start_daemon(self, *extra, **kwargs):
        daemon = Daemon(self.dir, *extra, **kwargs)
        self.daemons.append(daemon)
        return daemon.start()

    # helpers on top of one daemon
    def fork(self, daemon, via_shell=True):
        """Forks the root instance and returns the new child's UUID."""
        before = set(listdir(daemon.u("vm")))
        if via_shell:
            shell("echo 1 > fork", cwd=daemon.ukp)
        else:
            self.assertEqual(write_file(daemon.u("fork")), 2)
        child = read_value(daemon.u("fork"))
        self.assertRegex(child, UUID_RE)
        self.assertEqual(set(listdir(daemon.u("vm"))) - before, {child})
        return child

    def children(self, daemon, libukp=None):
        return listdir(libukp + "/vm" if libukp else daemon.u("vm"))

    def root_instance(self, daemon):
        """The UUID of the root instance in the control tree (the one that is not a child)."""
        (root,) = [name for name in listdir(daemon.s("instances")) if name not in listdir(daemon.u("vm"))]
        return root

    def assertErrno(self, expected, fn, *args, timeout=STEP):
        names = lambda codes: "/".join(errno.errorcode.get(c, str(c)) for c in codes)
        expected = expected if isinstance(expected, tuple) else (expected,)
        got = errno_of(fn, *args, timeout=timeout)
        self.assertIn(got, expected, "%s%r: expected %s, got %s" % (
            getattr(fn, "__name__", fn), args, names(expected), "success" if got is None else names((got,))))


def poll_fd(fd, events, timeout_ms):
    """poll(2) on one fd; returns its revents (0 when the poll timed out)."""
    poller = select.poll()
    poller.register(fd, events)
    result = poller.poll(timeout_ms)
    return result[0][1] if result else 0
