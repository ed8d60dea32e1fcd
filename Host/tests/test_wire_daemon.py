"""ukp-fuse --platform wire, mounted, against scripts/wire-fake-platform.py on a Unix socket.

Needs /dev/fuse and a ukp-fuse binary (UKP_FUSE, default the one the guest image build made);
skipped loudly otherwise.
"""
import os, shutil, signal, subprocess, sys, tempfile, time, unittest

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
UKP_FUSE = os.environ.get("UKP_FUSE") or os.path.join(REPO, ".build-guest-swift", "release", "ukp-fuse")
FAKE = os.path.join(REPO, "scripts", "wire-fake-platform.py")


def skip_reason():
    if not os.path.exists("/dev/fuse"):
        return "/dev/fuse is missing"
    if not os.access(UKP_FUSE, os.X_OK):
        return f"no ukp-fuse at {UKP_FUSE}"
    return None


REASON = skip_reason()
if REASON:
    print(f"!!!!!!!! SKIPPED: ukp-fuse --platform wire tests: {REASON} !!!!!!!!", file=sys.stderr, flush=True)


def wait_for(condition, what, timeout=20):
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


class WireFixture:
    """A test's own directory, a fake platform on a socket there, and ukp-fuse --platform
    wire mounted there; every process is stopped and the mount removed in every outcome."""

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="ukp-wire-")
        self.addCleanup(shutil.rmtree, self.dir, True)
        self.socket = os.path.join(self.dir, "platform.sock")
        self.mount = os.path.join(self.dir, "libukp")

    def start_platform(self, *options):
        platform = subprocess.Popen([sys.executable, FAKE, self.socket, *options],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.addCleanup(lambda: (platform.kill(), platform.wait()))
        wait_for(lambda: os.path.exists(self.socket), "the fake platform")
        return platform

    def start_daemon(self, *options, stderr=subprocess.PIPE):
        daemon = subprocess.Popen([UKP_FUSE, "--platform", "wire", "--wire-path", self.socket,
                                   "--mountpoint", self.mount, "--stopped-retention", "30", *options],
                                  stdout=subprocess.PIPE, stderr=stderr, text=True)

        def stop():
            if daemon.poll() is None:
                daemon.send_signal(signal.SIGTERM)
                try:
                    daemon.wait(10)
                except subprocess.TimeoutExpired:
                    daemon.kill()
                    subprocess.run(["fusermount3", "-u", "-z", self.mount], stderr=subprocess.DEVNULL)
            daemon.stdout.close()
            if daemon.stderr:
                daemon.stderr.close()
        self.addCleanup(stop)
        self.assertEqual(daemon.stdout.readline().strip(), f"ukp-fuse: serving {self.mount}")
        return daemon


@unittest.skipIf(REASON, REASON or "")
class WireDaemonTests(WireFixture, unittest.TestCase):

    def read(self, *path):
        with open(os.path.join(self.mount, *path)) as file:
            return file.read()

    def write(self, *path):
        with open(os.path.join(self.mount, *path), "w") as file:
            file.write("1")

    def test_fork_status_and_wait_over_the_wire(self):
        self.start_platform("--exit-after", "0.5", "--exit-code", "5")
        daemon = self.start_daemon()
        self.write("fork")
        child = self.read("fork").strip()
        self.assertEqual(len(child), 36)
        self.assertEqual(os.listdir(os.path.join(self.mount, "vm")), [child])
        wait_for(lambda: self.read("vm", child, "status") == "Running\n", "Running")
        self.write("vm", child, "wait")
        self.assertEqual(self.read("vm", child, "wait"), "5\n")
        self.assertEqual(self.read("vm", child, "status"), "Stopped\n")
        daemon.send_signal(signal.SIGTERM)
        self.assertEqual(daemon.wait(10), 0)

    def test_a_rejected_fork_fails_with_the_platforms_errno(self):
        self.start_platform("--reject", "12")
        self.start_daemon()
        with self.assertRaises(OSError) as raised:
            self.write("fork")
        self.assertEqual(raised.exception.errno, 12)
        self.assertEqual(os.listdir(os.path.join(self.mount, "vm")), [])

    def test_a_lost_platform_fails_the_fork_with_eio(self):
        platform = self.start_platform()
        self.start_daemon()
        platform.kill()
        platform.wait()
        os.unlink(self.socket)
        time.sleep(0.3)
        with self.assertRaises(OSError) as raised:
            self.write("fork")
        self.assertEqual(raised.exception.errno, 5)

    def test_bad_combinations_are_one_line_errors(self):
        cases = [
            (["--platform", "wire", "--sim-control", self.dir + "/x"], "--sim-control needs --platform sim"),
            (["--wire-path", self.socket], "--wire-path needs --platform wire"),
            (["--platform", "wire", "--wire-path", self.dir + "/missing.sock", "--mountpoint", self.mount],
             "cannot open the platform's stream"),
        ]
        for arguments, message in cases:
            result = subprocess.run([UKP_FUSE, *arguments], capture_output=True, text=True, timeout=30)
            self.assertNotEqual(result.returncode, 0)
            self.assertEqual(len(result.stderr.strip().splitlines()), 1, result.stderr)
            self.assertIn(message, result.stderr)


if __name__ == "__main__":
    unittest.main()
