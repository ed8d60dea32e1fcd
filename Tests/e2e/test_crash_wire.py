"""The daemon survives its own death on the wire platform: test_crash.py's load and checks
with `--platform wire --wire-hello` against scripts/wire-fake-platform.py, whose control
socket plays the children's apps (their exits and moves). Each restarted server
resynchronizes with the platform (the extension's Resync): a fork in flight when the server
died is answered once with the child the platform made, or done anew if the platform never
got it, and exits that happened while no server read the stream are reported. On top of
test_crash.py's checks: the platform made exactly the children the fork writes returned
(none lost, none twice), and no fork failed.

`UKP_CRASH_KILLS` (default 50) sets how many times the server is killed."""

import errno
import os
import re
import socket
import subprocess
import sys

import test_crash
from harness import REPO, STEP, eventually

FAKE = os.path.join(REPO, "scripts", "wire-fake-platform.py")


class FakePlatformControl:
    """Plays the children's apps through the fake platform's control socket."""

    def __init__(self, path):
        self.path = path

    def command(self, line):
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
            conn.settimeout(STEP)
            conn.connect(self.path)
            conn.sendall(line.encode() + b"\n")
            reply = conn.makefile().readline().strip()
        if not reply.startswith("ok"):
            raise OSError(errno.EIO, "fake platform: %s: %s" % (line, reply))
        return reply[3:]

    def exit(self, child, code):
        self.command("exit %s %d" % (child, code))

    def move(self, child, state):
        self.command("status %s %s" % (child, state))

    def children(self):
        return {entry.split(":")[0] for entry in self.command("children").split()}


class WireCrashSurvivalTests(test_crash.CrashSurvivalTests):
    def start_platform_and_daemon(self, *extra, binary=None):
        path, control = os.path.join(self.dir, "platform.sock"), os.path.join(self.dir, "control.sock")
        log = open(os.path.join(self.dir, "platform.log"), "wb")
        platform = subprocess.Popen([sys.executable, FAKE, path, "--control", control, "--fork-latency", "0.05"],
                                    stdout=subprocess.DEVNULL, stderr=log)
        self.addCleanup(lambda: (platform.kill(), platform.wait(), log.close()))
        eventually(lambda: os.path.exists(path) and os.path.exists(control), message="the fake platform")
        d = self.start_daemon("--platform", "wire", "--wire-path", path, "--wire-hello", *extra,
                              sim=False, retention=120, binary=binary)
        self.platform = FakePlatformControl(control)
        return d, self.platform

    def check(self, d, load, before):
        median, worst = super().check(d, load, before)
        self.assertEqual(load.fork_failures, [], "a fork failed")
        self.assertEqual(self.platform.children(), set(load.forks) | {load.long_lived},
                         "the platform made other children than the fork writes returned")
        log = d.stderr_text()
        settled = re.findall(r"resynchronized with the platform at \S+: fork in flight \d+ (\w+)", log)
        print("RESYNC %s: %d resyncs, %d with a fork in flight (%s)"
              % (self._testMethodName, log.count("resynchronized with the platform"), len(settled),
                 ", ".join("%s %d" % (what, settled.count(what)) for what in sorted(set(settled)))), flush=True)
        return median, worst


if __name__ == "__main__":
    import unittest
    unittest.main()
