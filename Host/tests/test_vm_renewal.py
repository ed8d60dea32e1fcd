"""End to end on real QEMU VMs: a child is renewed before its fork returns.

One scenario (Host/examples/renewal-check.sh: a VM forks twice, one child at a time) checks,
right after each fork returns: parent and child read different /proc/sys/kernel/random/uuid
values (3 reads each) and /dev/urandom bytes; generations differ between parent and child and
between the two children, and a poll on /generation woke in the child only; the child hooks
renewed machine-id and hostname in the child only; and each side's wall clock is within 5 ms
of the host's. The clock is measured so: ukp-host --console-stamps stamps each console line
with the host's clock as it arrives (reading every 1 ms); the guest prints its own clock in
the line; the smallest host-minus-guest difference after the fork, minus the same before the
fork, cancels the transport delay.

Skipped, loudly, where QEMU or the guest image is missing (Host/tests/run.sh builds it).
"""
import re, sys, unittest

from test_vm_fork import REASON, run_ukp_host

LINE = re.compile(r"^\[(\w+)\] @(\d+) (.*)$")
CLOCK_LIMIT_NS = 5_000_000


@unittest.skipIf(REASON, REASON or "")
class VMRenewalTests(unittest.TestCase):
    def test_children_are_renewed_before_their_fork_returns(self):
        output, _ = run_ukp_host(self, "renewal-check.sh", "--console-stamps")

        clocks = {}    # (vm, phase) -> smallest host-minus-guest difference, ns
        renewals = {}  # (round, side) -> (vm, fields)
        for raw in output.splitlines():
            match = LINE.match(raw)
            if not match:
                continue
            vm, host_ns, text = match.group(1), int(match.group(2)), match.group(3).strip()
            words = text.split()
            if len(words) == 3 and words[0] == "CLOCK":
                key = (vm, words[1])
                clocks[key] = min(clocks.get(key, 1 << 62), host_ns - int(words[2]))
            elif words and words[0] == "RENEWAL":
                fields = dict(word.split("=", 1) for word in words[1:])
                renewals[(int(fields["round"]), fields["side"])] = (vm, fields)
        self.assertEqual(set(renewals), {(1, "parent"), (1, "child"), (2, "parent"), (2, "child")}, output)
        root = renewals[(1, "parent")][0]
        before = clocks[(root, "before")]

        report = []
        generations = set()
        for round in (1, 2):
            parent_vm, parent = renewals[(round, "parent")]
            child_vm, child = renewals[(round, "child")]
            self.assertEqual(parent_vm, root)
            self.assertNotEqual(child_vm, root)
            # The kernel's random state: nothing in common right after the fork.
            self.assertEqual(set(parent["uuid"].split(",")) & set(child["uuid"].split(",")), set(), output)
            self.assertEqual(len(set(child["uuid"].split(","))), 3)
            self.assertNotEqual(parent["urandom"], child["urandom"])
            # Generations: the parent keeps its own; each child has a new one, and a poll woke it.
            self.assertEqual(parent["generation"], parent["was"])
            self.assertEqual(child["was"], parent["was"], "the child started from the parent's memory")
            self.assertNotEqual(child["generation"], parent["generation"])
            generations.add(child["generation"])
            self.assertEqual((parent["poll"], child["poll"]), ("0", "1"))
            # The child hooks ran in the child only.
            self.assertNotEqual(child["machine-id"], parent["machine-id"])
            self.assertEqual(parent["hostname"], "ukp")
            self.assertEqual(child["hostname"], "ukp-" + child["generation"][:8])
            self.assertIn(f"WAITED round={round} child=", output)
            # The wall clocks: stepped to the host's (the child) and past the pause (the parent).
            for side, vm in (("child", child_vm), ("parent", parent_vm)):
                offset = clocks[(vm, f"after{round}")] - before
                report.append(f"round {round} {side}: {offset / 1e6:+.2f} ms")
                self.assertLess(abs(offset), CLOCK_LIMIT_NS, f"{side} clock off by {offset / 1e6:.2f} ms\n" + output)
        self.assertEqual(len(generations), 2, "two children of one parent have different generations")
        self.assertIn(f"WAITED round=1 child=", output)
        self.assertRegex(output, r"WAITED round=1 child=\S+ code=11")
        self.assertRegex(output, r"WAITED round=2 child=\S+ code=12")
        print("\nVM renewal: wall clock vs host after the fork (transport delay cancelled): "
              + "; ".join(report), file=sys.stderr)


if __name__ == "__main__":
    unittest.main()
