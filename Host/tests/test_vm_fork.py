"""End to end: a real QEMU VM forks itself through /uk/libukp (ukp-host + the guest image).

Skipped, loudly, where QEMU or the guest image is missing (Host/tests/run.sh builds it).
UKP_GUEST_IMAGE names the image directory (default .build-guest).
"""
import json, os, re, shutil, subprocess, sys, tempfile, threading, time, unittest

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
IMAGE = os.environ.get("UKP_GUEST_IMAGE", os.path.join(REPO, ".build-guest"))
ZERO = "00000000-0000-0000-0000-000000000000"


def skip_reason():
    if shutil.which("qemu-system-x86_64") is None:
        return "qemu-system-x86_64 is missing"
    for name in ("vmlinuz", "initrd.gz"):
        if not os.path.exists(os.path.join(IMAGE, name)):
            return f"no guest image in {IMAGE} (Host/guest/build-image.sh)"
    return None


def guest_memory():
    """MiB for each VM: what the image needs (min-memory-mib), at least 128."""
    try:
        with open(os.path.join(IMAGE, "min-memory-mib")) as file:
            return max(128, int(file.read()))
    except (OSError, ValueError):
        return 256


def run_ukp_host(test, app, *options, image=IMAGE):
    """Runs Host/ukp-host with Host/examples/`app` (at most 2 VMs) to the end and checks that
    it exited 0; returns its output and its state directory."""
    state = tempfile.mkdtemp(prefix="ukp-vm-e2e-")
    test.addCleanup(shutil.rmtree, state, True)
    command = [os.path.join(REPO, "Host", "ukp-host"), "--image", image, *options,
               "--app", os.path.join(REPO, "Host", "examples", app),
               "--memory", str(guest_memory()), "--max-vms", "2", "--state-dir", state]
    try:
        result = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=400)
    except subprocess.TimeoutExpired as expired:
        test.fail(f"ukp-host did not finish in 400 s:\n{expired.output}")
    test.assertEqual(result.returncode, 0, result.stdout)
    return result.stdout, state


REASON = skip_reason()
if REASON:
    print(f"!!!!!!!! SKIPPED: real VM fork tests: {REASON} !!!!!!!!", file=sys.stderr, flush=True)


@unittest.skipIf(REASON, REASON or "")
class VMForkTests(unittest.TestCase):
    def memory(self):
        return guest_memory()

    def test_a_vm_forks_for_real(self):
        state = tempfile.mkdtemp(prefix="ukp-vm-e2e-")
        self.addCleanup(shutil.rmtree, state, True)
        command = [os.path.join(REPO, "Host", "ukp-host"), "--image", IMAGE,
                   "--app", os.path.join(REPO, "Host", "examples", "fork-demo.sh"),
                   "--memory", str(self.memory()), "--max-vms", "2", "--state-dir", state]
        host = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.addCleanup(lambda: host.poll() is None and host.kill())
        lines = []
        reader = threading.Thread(target=lambda: lines.extend(host.stdout), daemon=True)
        reader.start()

        # Two VMs run at once: the parent and its child.
        most_running = 0
        deadline = time.monotonic() + 300
        while host.poll() is None and time.monotonic() < deadline:
            running = 0
            instances = os.path.join(state, "instances")
            for entry in os.listdir(instances) if os.path.isdir(instances) else []:
                try:
                    with open(os.path.join(instances, entry, "status")) as file:
                        running += file.read().strip() == "Running"
                except OSError:
                    pass
            most_running = max(most_running, running)
            time.sleep(0.05)
        if host.poll() is None:
            host.kill()
            self.fail("ukp-host did not finish in 300 s:\n" + "".join(lines))
        reader.join(10)
        host.stdout.close()
        output = "".join(lines)
        self.assertEqual(host.returncode, 0, output)
        self.assertEqual(most_running, 2, "never saw two VMs running:\n" + output)

        before = re.search(r"\[(\w+)\] before fork: token (\w+)", output)
        parent = re.search(r"\[(\w+)\] parent: child ([0-9a-f-]{36}); token (\w+); status seen: (.*)", output)
        child = re.search(r"\[(\w+)\] child: fork reads ([0-9a-f-]{36}); token (\w+); vm/ has \[(.*)\]", output)
        waited = re.search(r"\[(\w+)\] parent: child exited with (\d+); status (\w+)", output)
        self.assertTrue(before and parent and child and waited, output)
        root = before.group(1)
        # The parent reads the child's UUID, the child reads the zero UUID, from different VMs.
        self.assertEqual(parent.group(1), root)
        self.assertEqual(child.group(1), parent.group(2)[:8], output)
        self.assertEqual(child.group(2), ZERO)
        # A value computed before the fork is the same on both sides.
        self.assertEqual(parent.group(3), before.group(2))
        self.assertEqual(child.group(3), before.group(2))
        # The child's vm/ is empty; its exit code reaches the parent's wait; status followed it.
        self.assertEqual(child.group(4), "")
        self.assertEqual(waited.group(2), "42")
        self.assertEqual(waited.group(3), "Stopped")
        self.assertIn("Running", parent.group(4).split())
        # poll(2) on the child's status woke the parent for each change, up to Stopped.
        polled = re.search(r"\[\w+\] parent: status poll saw: (.*)", output)
        self.assertTrue(polled, output)
        seen = polled.group(1).split()
        self.assertEqual(seen[-1], "Stopped", output)
        self.assertGreaterEqual(len(seen), 2, output)  # at least one change woke it
        # The host recorded the fork, with its timings.
        with open(os.path.join(state, "forks.jsonl")) as file:
            forks = [json.loads(line) for line in file]
        self.assertEqual(len(forks), 1)
        self.assertEqual(forks[0]["child"], parent.group(2))
        print(f"\nVM fork: parent paused {forks[0]['paused_ms']} ms, child running "
              f"{forks[0]['child_running_ms']} ms after the request ({forks[0]['memory_mib']} MiB)",
              file=sys.stderr)
        # Children are deleted on stop: nothing is left listed.
        self.assertEqual(os.listdir(os.path.join(state, "instances")), [])

    def test_a_child_forks_too(self):
        output, state = run_ukp_host(self, "nested-fork.sh")
        root = re.search(r"\[(\w+)\] root: forked child ([0-9a-f-]{36}); exiting", output)
        grandchild = re.search(r"\[(\w+)\] grandchild: fork reads ([0-9a-f-]{36}); vm/ has \[(.*)\]", output)
        child = re.search(r"\[(\w+)\] child: grandchild ([0-9a-f-]{36}) exited with (\d+)", output)
        self.assertTrue(root and grandchild and child, output)
        self.assertEqual(child.group(1), root.group(2)[:8])          # the child forked...
        self.assertEqual(grandchild.group(1), child.group(2)[:8])    # ...this grandchild
        self.assertEqual(grandchild.group(2), ZERO)
        self.assertEqual(grandchild.group(3), "")
        self.assertEqual(child.group(3), "7")
        self.assertIn(f"{child.group(1)} stopped with exit code 3", output)
        with open(os.path.join(state, "forks.jsonl")) as file:
            forks = [json.loads(line) for line in file]
        self.assertEqual(len(forks), 2)
        self.assertEqual(forks[0]["child"], root.group(2))
        self.assertEqual((forks[1]["parent"], forks[1]["child"]), (root.group(2), child.group(2)))


if __name__ == "__main__":
    unittest.main()
