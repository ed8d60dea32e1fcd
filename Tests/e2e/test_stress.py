"""A randomized mix of clients through the kernel: forks (root and nested), exits, waits,
polls, reads and listings racing with retention cleanups. Only the errnos SPEC.md allows
for such races may appear; afterwards the daemon still serves and stops cleanly."""

import errno
import os
import random
import select
import signal
import threading
import time

from harness import STEP, UUID_RE, DaemonTestCase, listdir, mounts_under, read_value

SECONDS = float(os.environ.get("UKP_E2E_STRESS_SECONDS", "6"))
SEED = int(os.environ.get("UKP_E2E_SEED", "1234"))

# a child may vanish (retention 0.2 s) or stop between any two steps
RACY = {errno.ENOENT, errno.ESTALE}


class StressTests(DaemonTestCase):

    def test_random_clients_race_with_cleanup(self):
        d = self.start_daemon("--fork-queue-depth", "4", retention=0.2)
        deadline = time.monotonic() + SECONDS
        unexpected = []
        counts = {}
        lock = threading.Lock()

        def note(kind, error=None):
            with lock:
                counts[kind] = counts.get(kind, 0) + 1
                if error is not None:
                    unexpected.append((kind, errno.errorcode.get(error.errno, error.errno), str(error)))

        def some_child(tree):
            try:
                children = os.listdir(os.path.join(tree, "vm"))
            except OSError as error:
                if error.errno not in RACY:
                    note("listdir", error)
                return None
            return random.choice(children) if children else None

        def trees():
            try:
                return [os.path.join(d.s("instances"), name, "libukp") for name in os.listdir(d.s("instances"))]
            except OSError as error:
                note("instances", error)
                return [d.ukp]

        def op_fork(rng):
            tree = rng.choice([d.ukp] + trees())
            try:
                fd = os.open(os.path.join(tree, "fork"), os.O_RDWR)
            except OSError as error:
                if error.errno not in RACY:
                    note("open-fork", error)
                return
            try:
                os.write(fd, b"1")
                result = os.pread(fd, 4096, 0).decode().strip()
                if not UUID_RE.match(result):
                    unexpected.append(("fork-result", result, tree))
                note("fork")
            except OSError as error:
                # EBUSY: queue full; EIO: the forking instance stopped; ESTALE/ENOENT: it vanished
                if error.errno not in RACY | {errno.EBUSY, errno.EIO}:
                    note("fork", error)
                else:
                    note("fork-" + errno.errorcode[error.errno])
            finally:
                os.close(fd)

        def op_exit(rng):
            child = some_child(d.ukp) if rng.random() < 0.7 else some_child(rng.choice(trees()))
            if child is None:
                return
            try:
                with open(d.s("instances", child, "exit"), "w") as f:
                    f.write("%d\n" % rng.randrange(256))
                note("exit")
            except OSError as error:
                if error.errno not in RACY | {errno.EINVAL}:  # EINVAL: already stopped
                    note("exit", error)

        def op_wait(rng):
            child = some_child(d.ukp)
            if child is None:
                return
            path = d.u("vm", child, "wait")
            try:
                fd = os.open(path, os.O_RDWR)
            except OSError as error:
                if error.errno not in RACY:
                    note("open-wait", error)
                return
            try:
                # wait with a deadline: poll for POLLIN, then the write returns at once
                poller = select.poll()
                poller.register(fd, select.POLLIN)
                if poller.poll(300):
                    os.write(fd, b"1")
                    code = os.pread(fd, 4096, 0)
                    if not code.strip().isdigit():
                        unexpected.append(("wait-code", code))
                    note("waited")
            except OSError as error:
                if error.errno not in RACY:
                    note("wait", error)
            finally:
                os.close(fd)

        def op_read(rng):
            child = some_child(d.ukp)
            if child is None:
                return
            for name in ("status", "snapshot", "creation_time", "wait"):
                try:
                    with open(d.u("vm", child, name), "rb") as f:
                        data = f.read()
                    if name == "status" and data.decode().strip() not in (
                            "Starting", "Running", "Draining", "Stopping", "Stopped", "Template"):
                        unexpected.append(("status", data))
                    note("read")
                except OSError as error:
                    if error.errno not in RACY:
                        note("read-" + name, error)

        def op_state(rng):
            child = some_child(d.ukp)
            if child is None:
                return
            try:
                with open(d.s("instances", child, "status"), "w") as f:
                    f.write(rng.choice(["Running", "Draining", "Stopping", "Template"]) + "\n")
                note("state")
            except OSError as error:
                if error.errno not in RACY | {errno.EINVAL}:
                    note("state", error)

        ops = [op_fork] * 3 + [op_exit] * 3 + [op_wait] * 2 + [op_read] * 3 + [op_state]

        def worker(index):
            rng = random.Random(SEED + index)
            while time.monotonic() < deadline:
                rng.choice(ops)(rng)

        with open(d.s("fork_latency_ms"), "w") as f:
            f.write("3\n")
        threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(SECONDS + 30)
        self.assertFalse(any(thread.is_alive() for thread in threads), "stress workers hung")
        print("\n  stress (seed %d): %s" % (SEED, dict(sorted(counts.items()))), end=" ")
        self.assertEqual(unexpected[:20], [])
        self.assertGreater(counts.get("fork", 0), 10)
        self.assertGreater(counts.get("exit", 0), 10)
        # the daemon is alive and consistent: every listed child answers
        self.assertIsNone(d.process.poll(), "daemon died:\n" + d.stderr_text()[-2000:])
        for child in listdir(d.u("vm")):
            try:
                read_value(d.u("vm", child, "status"))
            except OSError as error:
                self.assertIn(error.errno, RACY)
        self.fork(d)
        d.signal(signal.SIGTERM)
        self.assertEqual(d.wait(timeout=STEP), 0, d.stderr_text()[-2000:])
        self.assertEqual(mounts_under(self.dir), [])


if __name__ == "__main__":
    import unittest
    unittest.main()
