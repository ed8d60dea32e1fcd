#!/usr/bin/env python3
"""Leak soak: N fork/exit cycles through a real ukp-fuse mount (retention 0); prints the
daemon's RSS at a warmed-up baseline and at the end, and fails when it grew by more than 10%.

usage: scripts/soak.py [--cycles 100000] [--binary .build/release/ukp-fuse]
"""
import argparse, os, subprocess, sys, tempfile, time

def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")

def write(path, data):
    fd = os.open(path, os.O_WRONLY)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)

def read(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        return os.read(fd, 4096).decode().strip()
    finally:
        os.close(fd)

def cycle(u, s):
    write(f"{u}/fork", b"1")
    child = read(f"{u}/fork")
    write(f"{s}/instances/{child}/exit", b"0")

def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cycles", type=int, default=100_000)
    parser.add_argument("--warmup", type=int, default=2_000)
    parser.add_argument("--binary", default=".build/release/ukp-fuse")
    args = parser.parse_args()
    if not os.path.exists("/dev/fuse"):
        print("SKIPPED: /dev/fuse missing", file=sys.stderr)
        return 0
    top = tempfile.mkdtemp(prefix="ukp-soak-")
    u, s = f"{top}/ukp", f"{top}/sim"
    log = open(f"{top}.log", "w")
    daemon = subprocess.Popen([args.binary, "--mountpoint", u, "--sim-control", s,
                               "--stopped-retention", "0", "--log-level", "warning"],
                              stdout=subprocess.PIPE, stderr=log, text=True)
    try:
        line = daemon.stdout.readline()
        if "serving" not in line:
            print("soak: daemon did not start", file=sys.stderr)
            return 1
        for _ in range(args.warmup):
            cycle(u, s)
        time.sleep(0.5)
        baseline = rss_kib(daemon.pid)
        started = time.monotonic()
        for i in range(args.cycles):
            cycle(u, s)
        elapsed = time.monotonic() - started
        time.sleep(1.0)
        live = len(os.listdir(f"{u}/vm"))
        final = rss_kib(daemon.pid)
        growth = (final - baseline) / baseline * 100
        print(f"cycles: {args.cycles} in {elapsed:.1f} s ({args.cycles / elapsed:,.0f}/s)")
        print(f"RSS baseline (after {args.warmup} warm-up cycles): {baseline} KiB")
        print(f"RSS after the soak: {final} KiB ({growth:+.1f}%), live children: {live}")
        ok = growth <= 10 and live == 0
        print("soak: " + ("PASS" if ok else "FAIL: RSS grew more than 10% or children remain"))
        return 0 if ok else 1
    except OSError as error:
        print(f"soak: {error}; daemon exit status {daemon.poll()}; its log: {top}.log", file=sys.stderr)
        return 1
    finally:
        daemon.terminate()
        try:
            daemon.wait(timeout=10)
        except subprocess.TimeoutExpired:
            daemon.kill()
        for mount in (s, u):
            if subprocess.run(["mountpoint", "-q", mount]).returncode == 0:
                subprocess.run(["fusermount3", "-u", "-z", mount])
        for mount in (s, u):
            try:
                os.rmdir(mount)
            except OSError:
                pass
        os.rmdir(top)

if __name__ == "__main__":
    sys.exit(main())
