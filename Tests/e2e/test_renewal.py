"""Becoming a child on the sim platform, through the kernel: the child hooks (name order,
environment, a failing and a timed-out hook), the renewal options, and the client libraries
(clients/python/ukp.py, clients/c/ukp.h) against a real mount. On the sim platform every
instance shares this machine's kernel: nothing is reseeded and no clock is stepped (said once
in the log). The child side of a real fork is in Host/tests (test_wire_renewal, test_vm_renewal)."""

import os
import shutil
import subprocess
import sys
import textwrap

from harness import BINARY, REPO, STEP, UUID_RE, DaemonTestCase, eventually, read_value, write_file

CLIENTS = os.path.join(REPO, "clients")


def run(*args):
    done = subprocess.run([BINARY, *args], capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=STEP)
    return done.returncode, done.stdout, done.stderr


class SimHookTests(DaemonTestCase):
    def hooks(self, **scripts):
        directory = os.path.join(self.dir, "hooks")
        os.makedirs(directory, exist_ok=True)
        for name, body in scripts.items():
            path = os.path.join(directory, name.replace("_", "-"))
            with open(path, "w") as f:
                f.write("#!/bin/sh\n" + body + "\n")
            os.chmod(path, 0o755)
        return directory

    def test_each_new_child_runs_the_hooks_in_name_order_while_starting(self):
        out = os.path.join(self.dir, "hooks.out")
        hooks = self.hooks(
            a10_first=f'echo "first $UKP_INSTANCE $UKP_GENERATION $UKP_MOUNTPOINT" >> {out}',
            a20_fails="exit 3",
            a30_slow="sleep 30",
            a40_last=f'echo "last $UKP_INSTANCE" >> {out}')
        daemon = self.start_daemon("--child-hooks", hooks, "--child-hook-timeout", "0.3")
        child = self.fork(daemon)
        self.assertEqual(read_value(daemon.u("vm", child, "status")), "Starting", "Starting until the hooks are done")
        eventually(lambda: read_value(daemon.u("vm", child, "status")) == "Running", timeout=STEP,
                   message="Running once the hooks are done")
        generation = read_value(daemon.s("instances", child, "libukp", "generation"))
        with open(out) as f:
            self.assertEqual(f.read().splitlines(), [f"first {child} {generation} {daemon.ukp}", f"last {child}"])
        log = daemon.stderr_text()
        self.assertIn("a20-fails failed: exited with status 3", log)
        self.assertIn("a30-slow failed: timed out after 0.3 s: killed", log)
        self.assertNotEqual(generation, read_value(daemon.u("generation")))

    def test_hooks_get_the_daemons_own_environment(self):
        """The server starts with glibc's per-thread malloc caches off (GLIBC_TUNABLES, read by
        glibc only at exec), and puts the variable back as the daemon had it for its hooks."""
        out = os.path.join(self.dir, "environment.out")
        hooks = self.hooks(a10_env=f'echo "${{GLIBC_TUNABLES-unset}} ${{UKP_FUSE_INHERITED_GLIBC_TUNABLES-unset}}" >> {out}')
        self.assertNotIn("GLIBC_TUNABLES", os.environ)
        daemon = self.start_daemon("--child-hooks", hooks)
        with open("/proc/%d/environ" % daemon.server_pid(), "rb") as f:
            self.assertIn(b"GLIBC_TUNABLES=glibc.malloc.tcache_count=0", f.read().split(b"\0"))
        child = self.fork(daemon)
        eventually(lambda: read_value(daemon.u("vm", child, "status")) == "Running", timeout=STEP,
                   message="Running once the hooks are done")
        with open(out) as f:
            self.assertEqual(f.read().splitlines(), ["unset unset"])

    def test_the_sim_platform_says_once_that_it_neither_reseeds_nor_steps(self):
        daemon = self.start_daemon()
        for _ in range(3):
            self.fork(daemon)
        lines = [line for line in daemon.stderr_text().splitlines() if "one kernel for every instance" in line]
        self.assertEqual(len(lines), 1, daemon.stderr_text())
        self.assertIn("notice", lines[0])
        quiet = self.start_daemon("--no-child-reseed", "--no-clock-step", mountpoint=os.path.join(self.dir, "quiet"),
                                  sim_control=os.path.join(self.dir, "quiet-sim"))
        self.fork(quiet)
        self.assertNotIn("one kernel for every instance", quiet.stderr_text())

    def test_the_generation_file_is_read_only_and_pollable(self):
        daemon = self.start_daemon()
        generation = read_value(daemon.u("generation"))
        self.assertRegex(generation, UUID_RE)
        self.assertEqual(os.stat(daemon.u("generation")).st_mode & 0o777, 0o444)
        self.assertErrno((13, 9), write_file, daemon.u("generation"))  # EACCES / EBADF
        self.fork(daemon)
        self.assertEqual(read_value(daemon.u("generation")), generation, "the parent keeps its generation")


class RenewalOptionTests(DaemonTestCase):
    needs_fuse = False

    def test_help_shows_the_renewal_options(self):
        code, out, err = run("--help")
        self.assertEqual(code, 0, err)
        for option in ("--child-hooks", "--child-hook-timeout", "--no-child-reseed", "--no-clock-step", "--wire-hello"):
            self.assertIn(option, out)

    def test_bad_renewal_options_are_one_line_errors(self):
        cases = [
            (["--child-hooks", os.path.join(self.dir, "missing")], "is not a directory"),
            (["--child-hooks", BINARY], "is not a directory"),
            (["--child-hook-timeout", "0"], "--child-hook-timeout must be more than 0"),
            (["--child-hook-timeout=-1"], "--child-hook-timeout must be more than 0"),
            (["--child-hook-timeout", "nan"], "--child-hook-timeout must be more than 0"),
            (["--child-hook-timeout", "soon"], "child-hook-timeout"),
            (["--wire-hello"], "--wire-hello needs --platform wire"),
        ]
        for arguments, message in cases:
            code, _, err = run("--mountpoint", os.path.join(self.dir, "m"), *arguments)
            self.assertNotEqual(code, 0, arguments)
            self.assertEqual(len(err.strip().splitlines()), 1, err)
            self.assertIn(message, err, arguments)


class ClientLibraryTests(DaemonTestCase):
    """The client libraries on the parent's side of a sim fork, against a real mount."""

    def test_python_client_forks_and_waits(self):
        daemon = self.start_daemon()
        script = textwrap.dedent("""
            import sys, ukp
            ran = []
            ukp.on_child(lambda: ran.append(1))
            generation = ukp.generation()
            child = ukp.fork()
            print(child, generation, ran, flush=True)
            print(ukp.wait(child))
        """)
        env = {**os.environ, "UKP_ROOT": daemon.ukp, "PYTHONPATH": os.path.join(CLIENTS, "python")}
        process = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                   text=True, env=env)
        try:
            child, generation, ran = process.stdout.readline().split()
            self.assertRegex(child, UUID_RE)
            self.assertEqual(generation, read_value(daemon.u("generation")))
            self.assertEqual(ran, "[]", "on_child callbacks run in the child only")
            eventually(lambda: read_value(daemon.s("instances", child, "status")) == "Running")
            write_file(daemon.s("instances", child, "exit"), b"6\n")
            self.assertEqual(process.stdout.readline().strip(), "6")
            self.assertEqual(process.wait(STEP), 0, process.stderr.read())
        finally:
            process.kill()
            process.wait()
            process.stdout.close()
            process.stderr.close()

    def test_c_client_forks_and_waits(self):
        if shutil.which("cc") is None:
            self.skipTest("!!!!!!!! SKIPPED: no C compiler for clients/c/ukp.h !!!!!!!!")
        program = os.path.join(self.dir, "client")
        subprocess.run(["cc", "-Wall", "-Werror", "-I", os.path.join(CLIENTS, "c"), "-o", program,
                        os.path.join(CLIENTS, "c", "tests", "fork-and-wait.c")], check=True)
        daemon = self.start_daemon()
        process = subprocess.Popen([program], stdout=subprocess.PIPE, text=True, env={**os.environ, "UKP_ROOT": daemon.ukp})
        try:
            _, side, child, renewed, generation = process.stdout.readline().split()
            self.assertEqual((side, renewed), ("parent", "0"))
            self.assertEqual(generation, read_value(daemon.u("generation")))
            eventually(lambda: read_value(daemon.s("instances", child, "status")) == "Running")
            write_file(daemon.s("instances", child, "exit"), b"4\n")
            self.assertEqual(process.stdout.readline().strip(), "exit 4")
            self.assertEqual(process.wait(STEP), 0)
        finally:
            process.kill()
            process.wait()
            process.stdout.close()
