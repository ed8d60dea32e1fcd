"""The README's snippets, run as written (only the paths and the retention sleep are
substituted): the shell walkthrough, the Python app and the C app."""

import os
import re
import shutil
import subprocess
import time

from harness import REPO, STEP, UUID_RE, Blocked, DaemonTestCase, eventually, listdir, read_value

README = os.path.join(REPO, "README.md")


def readme_block(language, after):
    """The first ```language block in README.md after the line containing `after`."""
    with open(README) as f:
        text = f.read()
    start = text.find(after)
    if start < 0:
        return None
    match = re.search(r"```%s\n(.*?)```" % re.escape(language), text[start:], re.S)
    return match.group(1) if match else None


class ReadmeTests(DaemonTestCase):

    def block(self, language, after):
        if not os.path.exists(README):
            self.skipTest("README.md is missing")
        code = readme_block(language, after)
        self.assertIsNotNone(code, "README.md has no ```%s block after %r" % (language, after))
        return code

    def exit_next_child(self, d, code, timeout=STEP):
        """On a helper thread: waits for a child to appear, then makes it exit with `code`."""
        def body():
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                children = os.listdir(d.u("vm"))
                if children:
                    time.sleep(0.2)
                    with open(d.s("instances", children[0], "exit"), "w") as f:
                        f.write("%d\n" % code)
                    return children[0]
                time.sleep(0.02)
            raise AssertionError("no child appeared")
        return Blocked(body, name="exit-next-child")

    def test_shell_walkthrough_as_written(self):
        script = self.block("sh", "Your first five minutes")
        self.assertIn("U=/uk/libukp S=/uk/sim", script)
        d = self.start_daemon(retention=1)
        script = script.replace("U=/uk/libukp S=/uk/sim", "U=%s S=%s" % (d.ukp, d.sim))
        script = re.sub(r"\bsleep 60\b", "sleep 2", script)
        done = subprocess.run(["bash", "-e", "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              timeout=30, stdin=subprocess.DEVNULL)
        out, err = done.stdout.decode(), done.stderr.decode()
        self.assertEqual(done.returncode, 0, "walkthrough failed\nstdout:\n%s\nstderr:\n%s" % (out, err))
        lines = out.splitlines()
        self.assertEqual(len(lines), 9, out)
        empty, child, listed, status, snapshot, created, child_view, code, stopped = lines
        self.assertEqual(empty, "0000000")
        self.assertRegex(child, UUID_RE)
        self.assertEqual(listed, child)
        self.assertEqual(status, "Running")
        self.assertRegex(snapshot, UUID_RE)
        self.assertRegex(created, r"^[0-9]+$")
        self.assertEqual(child_view, "00000000-0000-0000-0000-000000000000")
        self.assertEqual((code, stopped), ("3", "Stopped"))
        self.assertEqual(listdir(d.u("vm")), [])

    def test_python_app_as_written(self):
        code = self.block("python", "An app that forks, in Python")
        d = self.start_daemon()
        code = code.replace('"/uk/libukp"', repr(d.ukp))
        exiter = self.exit_next_child(d, 5)
        done = subprocess.run(["python3", "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=20)
        self.assertEqual(done.returncode, 0, done.stderr.decode())
        child = exiter.result()
        self.assertEqual(done.stdout.decode(), "child exited with 5\n")
        self.assertEqual(read_value(d.u("vm", child, "wait")), "5")

    def test_c_app_as_written(self):
        code = self.block("c", "The same in C")
        compiler = shutil.which("cc") or shutil.which("gcc")
        if compiler is None:
            self.skipTest("no C compiler")
        d = self.start_daemon()
        source = os.path.join(self.dir, "app.c")
        binary = os.path.join(self.dir, "app")
        with open(source, "w") as f:
            f.write(code.replace('"/uk/libukp/', '"%s/' % d.ukp))
        built = subprocess.run([compiler, "-o", binary, source], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               timeout=60)
        self.assertEqual(built.returncode, 0, built.stdout.decode())
        exiter = self.exit_next_child(d, 9)
        done = subprocess.run([binary], stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=20)
        self.assertEqual(done.returncode, 0, done.stderr.decode())
        child = exiter.result()
        self.assertEqual(done.stdout.decode(), "child %s exited with 9\n" % child)

    def test_client_library_apps_as_written(self):
        python = self.block("python", "With the client libraries")
        c = self.block("c", "With the client libraries")
        d = self.start_daemon()
        env = {**os.environ, "UKP_ROOT": d.ukp, "PYTHONPATH": os.path.join(REPO, "clients", "python")}
        exiter = self.exit_next_child(d, 5)
        done = subprocess.run(["python3", "-c", python], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              timeout=20, env=env)
        self.assertEqual(done.returncode, 0, done.stderr.decode())
        self.assertEqual(done.stdout.decode(), "child %s exited with 5\n" % exiter.result())
        compiler = shutil.which("cc") or shutil.which("gcc")
        if compiler is None:
            self.skipTest("!!!!!!!! SKIPPED: no C compiler for the README's C client app !!!!!!!!")
        source, binary = os.path.join(self.dir, "client.c"), os.path.join(self.dir, "client")
        with open(source, "w") as f:
            f.write(c)
        built = subprocess.run([compiler, "-Wall", "-Werror", "-I", os.path.join(REPO, "clients", "c"), "-o", binary,
                                source], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
        self.assertEqual(built.returncode, 0, built.stdout.decode())
        eventually(lambda: listdir(d.u("vm")) == [], message="the first child cleaned up")
        exiter = self.exit_next_child(d, 8)
        done = subprocess.run([binary], stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=20, env=env)
        self.assertEqual(done.returncode, 0, done.stderr.decode())
        self.assertEqual(done.stdout.decode(), "child %s exited with 8\n" % exiter.result())


if __name__ == "__main__":
    import unittest
    unittest.main()
