"""The guest's ukp-fuse survives its own death inside a real VM: Host/examples/crash-fork.sh
kills the guest's server with SIGKILL while the fork is on the wire, in the child, and twice
while the parent waits for the child; each new server takes the connection over and
resynchronizes with ukp-host (the wire extension's Resync). The fork returns once on each
side (one fork recorded, no second child), the child's exit code reaches the parent's wait,
and no read of /uk/libukp failed meanwhile (the stall is printed).

It needs FUSE_NOTIFY_RESEND in the guest kernel (Linux 6.9+), so it runs on an image built
with Debian's 6.12 cloud kernel: UKP_GUEST_IMAGE_RESEND (Host/tests/run.sh builds it);
skipped loudly where that image or QEMU is missing.
"""
import json, os, re, shutil, sys, unittest

from test_vm_fork import REPO, ZERO, run_ukp_host

IMAGE = os.environ.get("UKP_GUEST_IMAGE_RESEND", os.path.join(REPO, ".build-guest-resend"))


def skip_reason():
    if shutil.which("qemu-system-x86_64") is None:
        return "qemu-system-x86_64 is missing"
    for name in ("vmlinuz", "initrd.gz"):
        if not os.path.exists(os.path.join(IMAGE, name)):
            return f"no guest image in {IMAGE} (Host/tests/run.sh builds it)"
    try:
        with open(os.path.join(IMAGE, "kernel-release")) as file:
            release = file.read().strip()
    except OSError:
        return f"no guest image with its kernel-release in {IMAGE} (Host/tests/run.sh builds it)"
    version = tuple(int(n) for n in re.findall(r"\d+", release)[:2])
    if version < (6, 9):
        return f"the guest kernel in {IMAGE} is {release}: no FUSE_NOTIFY_RESEND before 6.9"
    return None


REASON = skip_reason()
if REASON:
    print(f"!!!!!!!! SKIPPED: the VM crash test: {REASON} !!!!!!!!", file=sys.stderr, flush=True)


@unittest.skipIf(REASON, REASON or "")
class VMCrashTests(unittest.TestCase):
    def test_the_guests_server_killed_while_a_vm_forks_and_waits(self):
        # The fork starts 300 ms after its request: time for a shell under TCG to see the
        # ForkRequest on the wire and kill the server (a reflink fork is over in ~100 ms).
        output, state = run_ukp_host(self, "crash-fork.sh", "--fork-delay", "300", image=IMAGE)
        kills = re.findall(r"\[\w+\] killed the server \(([^)]*)\)", output)
        self.assertIn("fork in flight", kills, output)
        self.assertIn("in the child", kills, output)
        self.assertEqual(kills.count("parent waiting"), 2, output)
        self.assertNotIn("no new server", output)
        self.assertNotIn("the fork was never seen on the wire", output)
        parent = re.search(r"\[(\w+)\] parent: child ([0-9a-f-]{36}) exited with (\d+); status (\w+); vm/ has \[(.*)\]",
                           output)
        child = re.search(r"\[(\w+)\] child: fork reads ([0-9a-f-]{36}); vm/ has \[(.*)\]", output)
        self.assertTrue(parent and child, output)
        self.assertEqual(child.group(1), parent.group(2)[:8], "the child is the VM the parent's fork returned")
        self.assertEqual(child.group(2), ZERO)
        self.assertEqual(child.group(3), "")
        self.assertEqual(parent.group(3, 4, 5), ("42", "Stopped", parent.group(2)))
        # The fork in flight was answered by the resync (never forked twice), to the parent and the child.
        resyncs = re.findall(r"ukp-host: (\w+): Resync \d+: fork ([^ ,]+)( answered again| never received)?", output)
        self.assertTrue(any(vm == parent.group(1) and outcome == " answered again" for vm, _, outcome in resyncs),
                        output)
        with open(os.path.join(state, "forks.jsonl")) as file:
            forks = [json.loads(line) for line in file]
        self.assertEqual([fork["child"] for fork in forks], [parent.group(2)], "one fork, its child the one returned")
        stall = re.search(r"\] parent: stall reads (\d+) median ([\d.]+) ms max (\d+) ms errors (\d+)(.*)", output)
        self.assertTrue(stall, output)
        self.assertEqual(stall.group(4), "0", "a read failed:" + stall.group(5))
        answered = [vm for vm, _, outcome in resyncs if outcome == " answered again"]
        print(f"\nSTALL VM crash: {stall.group(1)} reads of generation, median {stall.group(2)} ms, "
              f"max {stall.group(3)} ms; {len(kills)} kills, {len(resyncs)} resyncs, the fork in flight "
              f"answered again to {len(answered)} VM(s)", file=sys.stderr, flush=True)


if __name__ == "__main__":
    unittest.main()
