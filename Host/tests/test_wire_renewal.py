"""Becoming a child, through the kernel: ukp-fuse --platform wire, mounted, against
scripts/wire-fake-platform.py playing a platform that answers forks with ParentId (this
daemon is the child) or ForkCreated. Real reseed ioctls (as root), real hooks, the client
libraries in clients/. Never steps this machine's clock: every daemon runs --no-clock-step
(the clock step is checked in the VMs, test_vm_renewal.py).

Needs /dev/fuse and a ukp-fuse binary (UKP_FUSE, default the guest image's); skipped loudly otherwise.
"""
import os, select, shutil, subprocess, sys, textwrap, time, unittest

from test_wire_daemon import REASON, REPO, WireFixture

ZERO = "00000000-0000-0000-0000-000000000000"
CLIENTS = os.path.join(REPO, "clients")


@unittest.skipIf(REASON, REASON or "")
class WireRenewalTests(WireFixture, unittest.TestCase):
    def setUp(self):
        super().setUp()
        self.hooks = os.path.join(self.dir, "hooks")
        os.mkdir(self.hooks)
        self.log = os.path.join(self.dir, "daemon.log")

    def hook(self, name, body):
        path = os.path.join(self.hooks, name)
        with open(path, "w") as file:
            file.write("#!/bin/sh\n" + body + "\n")
        os.chmod(path, 0o755)

    def start_daemon(self, *options):
        """The daemon, logging at info level into self.log; never stepping this machine's clock."""
        log = open(self.log, "w")
        self.addCleanup(log.close)
        return super().start_daemon("--no-clock-step", "--log-level", "info", *options, stderr=log)

    def logged(self, text):
        with open(self.log) as file:
            return [line.rstrip() for line in file if text in line]

    def read(self, name):
        with open(os.path.join(self.mount, name)) as file:
            return file.read().strip()

    def fork(self):
        """Writes fork (without O_TRUNC, as the clients do); returns how long it blocked."""
        started = time.monotonic()
        fd = os.open(os.path.join(self.mount, "fork"), os.O_WRONLY)
        try:
            self.assertEqual(os.write(fd, b"1"), 1)
        finally:
            os.close(fd)
        return time.monotonic() - started

    def test_a_child_is_renewed_before_its_fork_returns(self):
        out = os.path.join(self.dir, "hooks.out")
        self.hook("10-first", f'echo "10 $UKP_GENERATION $UKP_MOUNTPOINT" >> {out}')
        self.hook("20-fails", "exit 4")
        self.hook("30-slow", "sleep 30")
        self.hook("40-last", f'echo "40 $UKP_GENERATION" >> {out}')
        self.hook(".hidden", f"echo hidden >> {out}")
        self.start_platform("--child")
        self.start_daemon("--wire-hello", "--child-hooks", self.hooks, "--child-hook-timeout", "0.5")
        before = self.read("generation")
        watcher = os.open(os.path.join(self.mount, "generation"), os.O_RDONLY)
        self.addCleanup(os.close, watcher)
        os.pread(watcher, 64, 0)
        poller = select.poll()
        poller.register(watcher, select.POLLPRI)
        self.assertEqual(poller.poll(0), [], "not ready before the fork")

        blocked = self.fork()
        after = self.read("generation")
        self.assertEqual(self.read("fork"), ZERO)
        self.assertNotEqual(after, before)
        self.assertTrue(poller.poll(0), "a poll on generation wakes in the child")
        with open(out) as file:
            self.assertEqual(file.read().splitlines(), [f"10 {after} {self.mount}", f"40 {after}"])
        self.assertGreaterEqual(blocked, 0.5, "the fork returned before the hooks ran out")
        self.assertLess(blocked, 10)
        self.assertTrue(self.logged("reseed: CRNG reseeded with 32 bytes from the platform"))
        self.assertTrue(self.logged("error") and self.logged("20-fails failed: exited with status 4"))
        self.assertTrue(self.logged("30-slow failed: timed out after 0.5 s: killed"))
        self.assertFalse(self.logged("clock step: CLOCK_REALTIME stepped"))

    def test_a_platform_without_the_extension_reseeds_the_child_from_its_own_pool(self):
        self.start_platform("--child", "--no-extension")
        self.start_daemon()  # not offered: no Hello (a Hello would drop this platform's stream)
        before = self.read("generation")
        self.fork()
        self.assertEqual(self.read("fork"), ZERO)
        self.assertNotEqual(self.read("generation"), before)
        notice = self.logged("reseed: no entropy from the platform: RNDRESEEDCRNG alone")
        self.assertEqual(len(notice), 1, "\n".join(self.logged("")))
        self.assertIn("notice", notice[0])

    def test_no_child_reseed_leaves_the_crng_alone(self):
        self.start_platform("--child")
        self.start_daemon("--wire-hello", "--no-child-reseed")
        self.fork()
        self.assertEqual(self.read("fork"), ZERO)
        self.assertEqual(self.logged("reseed"), [])

    def test_the_python_client_in_the_child(self):
        self.start_platform("--child")
        self.start_daemon("--wire-hello")
        script = textwrap.dedent("""
            import random, sys, ukp
            ran = []
            ukp.on_child(lambda: ran.append("mine"))
            state = random.getstate()
            result = ukp.fork()
            print(result, ran, random.getstate() != state, ukp.generation())
        """)
        done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=30,
                              env={**os.environ, "UKP_ROOT": self.mount, "PYTHONPATH": os.path.join(CLIENTS, "python")})
        self.assertEqual(done.returncode, 0, done.stderr)
        self.assertEqual(done.stdout.split()[0], "None")
        self.assertIn("['mine']", done.stdout)
        self.assertEqual(done.stdout.split()[-2], "True", "random was re-seeded in the child")
        self.assertEqual(done.stdout.split()[-1], self.read("generation"))

    def test_the_python_client_in_the_parent(self):
        self.start_platform("--exit-after", "0.3", "--exit-code", "7")
        self.start_daemon("--wire-hello")
        script = "import ukp; child = ukp.fork(); print(child, ukp.wait(child))"
        done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=30,
                              env={**os.environ, "UKP_ROOT": self.mount, "PYTHONPATH": os.path.join(CLIENTS, "python")})
        self.assertEqual(done.returncode, 0, done.stderr)
        child, code = done.stdout.split()
        self.assertEqual(os.listdir(os.path.join(self.mount, "vm")), [child])
        self.assertEqual(code, "7")

    def c_client(self):
        """clients/c/tests/fork-and-wait.c, built against ukp.h and run on the mount: its words."""
        if shutil.which("cc") is None:
            self.skipTest("!!!!!!!! SKIPPED: no C compiler for clients/c/ukp.h !!!!!!!!")
        program = os.path.join(self.dir, "client")
        subprocess.run(["cc", "-Wall", "-Werror", "-O2", "-I", os.path.join(CLIENTS, "c"), "-o", program,
                        os.path.join(CLIENTS, "c", "tests", "fork-and-wait.c")], check=True)
        done = subprocess.run([program], capture_output=True, text=True, timeout=30, env={**os.environ, "UKP_ROOT": self.mount})
        self.assertEqual(done.returncode, 0, done.stderr)
        return done.stdout.split()

    def test_the_c_client_in_the_child(self):
        self.start_platform("--child")
        self.start_daemon("--wire-hello")
        self.assertEqual(self.c_client(), ["fork", "child", ZERO, "1", self.read("generation")])

    def test_the_c_client_in_the_parent(self):
        self.start_platform("--exit-after", "0.3", "--exit-code", "9")
        self.start_daemon("--wire-hello")
        _, side, child, renewed, generation, _, code = self.c_client()
        self.assertEqual((side, renewed, code), ("parent", "0", "9"))
        self.assertEqual(generation, self.read("generation"))
        self.assertEqual(os.listdir(os.path.join(self.mount, "vm")), [child])
