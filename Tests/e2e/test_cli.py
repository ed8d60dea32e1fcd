"""The command line: --help, the spec subcommand, bad options, unusable mount points,
a missing /dev/fuse."""

import os
import shutil
import subprocess

from harness import BINARY, STEP, DaemonTestCase, Daemon, listdir, mounts_under

OPTIONS = ("--mountpoint", "--platform", "--sim-control", "--fork-queue-depth", "--stopped-retention",
           "--allow-other", "--uid", "--gid", "--log-level")


def run(*args, timeout=STEP, cwd=None):
    done = subprocess.run([BINARY, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          stdin=subprocess.DEVNULL, timeout=timeout, cwd=cwd)
    return done.returncode, done.stdout.decode(errors="replace"), done.stderr.decode(errors="replace")


class HelpTests(DaemonTestCase):
    needs_fuse = False

    def test_help_mentions_every_option_and_default(self):
        for flag in ("--help", "-h"):
            code, out, err = run(flag)
            self.assertEqual(code, 0, err)
            for option in OPTIONS:
                self.assertIn(option, out, option)
            for default in ("/uk/libukp", "32", "60", "sim", "info"):
                self.assertIn(default, out, default)
            for level in ("trace", "debug", "info", "notice", "warning", "error"):
                self.assertIn(level, out)
            self.assertIn("fork", out)
            self.assertIn("wait", out)

    def test_spec_subcommand_prints_the_tree_table(self):
        code, out, err = run("spec")
        self.assertEqual(code, 0, err)
        for path in ("`/fork`", "`/vm/`", "`/vm/<uuid>/snapshot`", "`/vm/<uuid>/creation_time`",
                     "`/vm/<uuid>/status`", "`/vm/<uuid>/wait`"):
            self.assertIn(path, out)
        self.assertIn("| path | mode |", out)

    def test_bad_options_are_one_line_and_non_zero(self):
        cases = [
            ("--bogus",),
            ("--fork-queue-depth", "abc"),
            ("--fork-queue-depth", "-3"),
            ("--stopped-retention", "-1"),
            ("--stopped-retention", "soon"),
            ("--platform", "nope"),
            ("--log-level", "loud"),
            ("--uid", "-1"),
            ("--mountpoint",),
            ("--mountpoint", os.path.join(self.dir, "same"), "--sim-control", os.path.join(self.dir, "same")),
            ("extra-argument",),
        ]
        for args in cases:
            code, out, err = run(*args)
            self.assertNotEqual(code, 0, args)
            self.assertEqual(len(err.splitlines()), 1, "%r: stderr is not one line: %r" % (args, err))
            self.assertTrue(err.startswith("ukp-fuse:") or "error" in err.lower(), (args, err))
            self.assertEqual(mounts_under(self.dir), [], args)


class MountPointTests(DaemonTestCase):

    def assert_one_line_failure(self, args, *words):
        code, out, err = run(*args)
        self.assertNotEqual(code, 0, (args, err))
        self.assertEqual(len(err.splitlines()), 1, "%r: stderr is not one line: %r" % (args, err))
        for word in words:
            self.assertIn(word, err)
        self.assertNotIn("serving", out)
        self.assertEqual(mounts_under(self.dir), [], args)
        return err

    def test_regular_file_as_mount_point(self):
        regular = os.path.join(self.dir, "regular")
        open(regular, "w").close()
        self.assert_one_line_failure(("--mountpoint", regular), regular)
        self.assert_one_line_failure(("--mountpoint", os.path.join(regular, "below")), regular)

    def test_unusable_sim_control_unmounts_the_ukp_mount(self):
        regular = os.path.join(self.dir, "regular")
        open(regular, "w").close()
        self.assert_one_line_failure(("--mountpoint", os.path.join(self.dir, "ukp"), "--sim-control", regular),
                                     regular)

    def test_a_mount_point_another_daemon_serves_is_refused(self):
        d = self.start_daemon(sim=False)
        code, out, err = run("--mountpoint", d.u())
        self.assertNotEqual(code, 0, err)
        self.assertEqual(len(err.splitlines()), 1, "stderr is not one line: %r" % err)
        self.assertIn("already served", err)
        self.assertNotIn("serving", out)
        self.assertEqual(mounts_under(self.dir), [d.u()], "nothing mounted on top")
        self.assertEqual(sorted(listdir(d.u())), ["fork", "generation", "vm"], "the first daemon still serves")

    def test_missing_mount_point_is_created(self):
        deep = os.path.join(self.dir, "a", "b", "ukp")
        d = self.start_daemon(mountpoint=deep, sim=False)
        self.assertEqual(sorted(listdir(d.u())), ["fork", "generation", "vm"])
        self.assertEqual(mounts_under(self.dir), [deep])

    def test_warns_about_a_kernel_request_timeout(self):
        setting = "/proc/sys/fs/fuse/default_request_timeout"
        if not os.path.exists(setting) or not os.access(setting, os.W_OK):
            self.skipTest("%s is missing or not writable (Linux < 6.14 or not root)" % setting)
        with open(setting) as f:
            previous = f.read().strip()
        # a huge value: harmless for any other mount made during these few seconds
        try:
            with open(setting, "w") as f:
                f.write("65535\n")
            d = self.start_daemon(sim=False)
        finally:
            with open(setting, "w") as f:
                f.write(previous + "\n")
        self.assertIn("default_request_timeout", d.stderr_text())
        self.assertEqual(sorted(listdir(d.u())), ["fork", "generation", "vm"])
        d.stop()
        other = self.start_daemon(sim=False)
        if previous == "0":
            self.assertNotIn("request_timeout", other.stderr_text())

    def test_missing_dev_fuse_is_one_line_error(self):
        if shutil.which("unshare") is None:
            self.skipTest("unshare(1) is missing")
        # a private mount namespace where /dev is an empty tmpfs
        command = 'mount -t tmpfs none /dev && exec "$0" --mountpoint "$1"'
        done = subprocess.run(["unshare", "-m", "sh", "-c", command, BINARY, os.path.join(self.dir, "ukp")],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=STEP)
        err = done.stderr.decode(errors="replace")
        if "unshare failed" in err or "mount:" in err:
            self.skipTest("cannot make a mount namespace here: %s" % err.strip())
        self.assertNotEqual(done.returncode, 0)
        self.assertEqual(len(err.splitlines()), 1, err)
        self.assertIn("/dev/fuse", err)
        self.assertEqual(mounts_under(self.dir), [])


if __name__ == "__main__":
    import unittest
    unittest.main()
