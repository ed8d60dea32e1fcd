"""Becoming a child, through the kernel: ukp-fuse --platform wire, mounted, against
scripts/wire-fake-platform.py playing a platform that answers forks with ParentId (this
daemon is the child) or ForkCreated. Real reseed ioctls (as root), real hooks, the client
libraries in clients/. Never steps this machine's clock: every daemon runs --no-clock-step
(the clock step is checked in the VMs, test_vm_renewal.py).

Needs /dev/fuse and a ukp-fuse binary (UKP_FUSE, default the guest image's); skipped loudly otherwise.
"""
import os, select, shutil, signal, subprocess, sys, tempfile, textwrap, time, unittest

from test_wire_daemon import FAKE, REASON, REPO, UKP_FUSE, wait_for

ZERO = "00000000-0000-0000-0000-000000000000"
CLIENTS = os.path.join(REPO, "clients")


@unittest.skipIf(REASON, REASON or "")
class WireRenewalTests(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="ukp-wire-")
        self.addCleanup(shutil.rmtree, self.dir, True)
        self.socket = os.path.join(self.dir, "platform.sock")
        self.mount = os.path.join(self.dir, "libukp")
        self.hooks = os.path.join(self.dir, "hooks")
        os.mkdir(self.hooks)
        self.log = os.path.join(self.dir, "daemon.log")

    def hook(self, name, body):
        path = os.path.join(self.hooks, name)
        with open(path, "w") as file:
            file.write("#!/bin/sh\n" + body + "\n")
        os.chmod(path, 0o755)

    def start_platform(self, *options):
        platform = subprocess.Popen([sys.executable, FAKE, self.socket, *options],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.addCleanup(lambda: (platform.kill(), platform.wait()))
        wait_for(lambda: os.path.exists(self.socket), "the fake platform")

    def start_daemon(self, *options):
        log = open(self.log, "w")
        daemon = subprocess.Popen([UKP_FUSE, "--platform", "wire", "--wire-path", self.socket,
                                   "--mountpoint", self.mount, "--no-clock-step", "--log-level", "info", *options],
                                  stdout=subprocess.PIPE, stderr=log, text=True)

        def stop():
            if daemon.poll() is None:
                daemon.send_signal(signal.SIGTERM)
                try:
                    daemon.wait(10)
                except subprocess.TimeoutExpired:
                    daemon.kill()
                    subprocess.run(["fusermount3", "-u", "-z", self.mount], stderr=subprocess.DEVNULL)
            daemon.stdout.close()
            log.close()
        self.addCleanup(stop)
        self.assertEqual(daemon.stdout.readline().strip(), f"ukp-fuse: serving {self.mount}")
        return daemon

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
        """clients/c/ukp.h in a small program: forks, then reports its side (and waits in the parent)."""
        if shutil.which("cc") is None:
            self.skipTest("!!!!!!!! SKIPPED: no C compiler for clients/c/ukp.h !!!!!!!!")
        program = os.path.join(self.dir, "client")
        source = os.path.join(self.dir, "client.c")
        with open(source, "w") as file:
            file.write(textwrap.dedent("""
                #include <stdio.h>
                #include "ukp.h"
                static void renew(void *flag) { *(int *)flag = 1; }
                int main(void) {
                    int renewed = 0, code = -1;
                    ukp_uuid child, generation;
                    ukp_on_child(renew, &renewed);
                    int side = ukp_fork(&child);
                    if (side < 0) { perror("ukp_fork"); return 1; }
                    if (ukp_generation(&generation) != 0) { perror("generation"); return 1; }
                    if (side == 0) { printf("child %s %d %s\\n", child.text, renewed, generation.text); return 0; }
                    if (ukp_wait(&child, &code) != 0) { perror("ukp_wait"); return 1; }
                    printf("parent %s %d %d\\n", child.text, renewed, code);
                    return 0;
                }
            """))
        subprocess.run(["cc", "-Wall", "-Werror", "-O2", "-I", os.path.join(CLIENTS, "c"), "-o", program, source], check=True)
        done = subprocess.run([program], capture_output=True, text=True, timeout=30, env={**os.environ, "UKP_ROOT": self.mount})
        self.assertEqual(done.returncode, 0, done.stderr)
        return done.stdout.split()

    def test_the_c_client_in_the_child(self):
        self.start_platform("--child")
        self.start_daemon("--wire-hello")
        self.assertEqual(self.c_client(), ["child", ZERO, "1", self.read("generation")])

    def test_the_c_client_in_the_parent(self):
        self.start_platform("--exit-after", "0.3", "--exit-code", "9")
        self.start_daemon("--wire-hello")
        side, child, renewed, code = self.c_client()
        self.assertEqual((side, renewed, code), ("parent", "0", "9"))
        self.assertEqual(os.listdir(os.path.join(self.mount, "vm")), [child])
