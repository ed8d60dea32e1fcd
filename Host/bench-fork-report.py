#!/usr/bin/env python3
"""The tables of docs/vm-fork-benchmark.md from Host/bench-fork.sh's fork records.

  bench-fork-report.py RESULTS.jsonl FORKS ROUNDS TOUCH_MIB "CANDIDATES"
"""
import json, os, platform, statistics, subprocess, sys

PAUSE_TARGET, RUNNING_TARGET = 5, 100  # ms, issue #17

ABOUT = {
    "reflink": "Guest RAM in files on an XFS file system with reflinks (a sparse image in /dev/shm on a loop "
               "device). The host writes the parent's dirty pages back every 50 ms (`--flush-interval`, not "
               "while a fork runs) and again from the request until the parent stops; the migration stream holds only the device "
               "state (`x-ignore-shared`, ≈360 KiB); while QEMU saves it, the child's RAM file becomes a "
               "copy-on-write clone of the parent's (FICLONE). The child gets the stream once its RAM is in "
               "place and pages its RAM in on demand.",
    "live": "QEMU live migration straight into the child while the parent runs (`auto-converge`, "
            "`downtime-limit` 20 ms); the parent pauses only for the last dirty pages, the child waits for all RAM.",
    "background": "QEMU's `background-snapshot` (userfaultfd write-protect): the parent pauses only to save "
                  "its device state, then runs while all of its RAM streams into the child, which can start "
                  "only once it has arrived.",
    "shm": "Guest RAM in a shared tmpfs file: the parent pauses, saves its device state (`x-ignore-shared`) "
           "and its RAM file's data is copied for the child.",
    "file": "The parent pauses and saves everything (RAM included) to a file; the child loads it.",
}
EXTRAS = {  # per mode: (record key, column title)
    "reflink": [("clone_ms", "clone (ms)"), ("devices_saved_ms", "devices saved (ms)"),
                ("flush_ms", "write-back at the request (ms)"), ("stream_kib", "stream (KiB)")],
    "live": [("copied_mib", "RAM sent (MiB)"), ("qemu_downtime_ms", "QEMU's downtime (ms)")],
    "background": [("copied_mib", "RAM sent (MiB)")],
    "shm": [("copy_ms", "copy (ms)"), ("copied_mib", "RAM copied (MiB)")],
    "file": [],
}


def median(rows, key):
    values = [row[key] for row in rows if row.get(key) is not None]
    return statistics.median(values) if values else None


def show(value, digits=0):
    return "–" if value is None else f"{value:.{digits}f}"


def spread(rows, key):
    values = [row[key] for row in rows if row.get(key) is not None]
    if not values:
        return "–"
    digits = 1 if statistics.median(values) < 10 else 0
    return f"**{show(statistics.median(values), digits)}** ({show(min(values), digits)}–{show(max(values), digits)})"


def main():
    results, forks, rounds, touch_mib, candidates = sys.argv[1:6]
    rows = [json.loads(line) for line in open(results)]
    qemu = subprocess.run(["qemu-system-x86_64", "--version"], capture_output=True, text=True).stdout.splitlines()[0]
    loads = [row["load_avg"] for row in rows if row.get("load_avg") is not None]
    print("## Measured\n")
    print(f"`Host/bench-fork.sh` on this machine ({platform.machine()}, {os.cpu_count()} cores, {qemu}, TCG, "
          f"Linux {platform.release()}): a guest touches {touch_mib} MiB, then forks {forks} times; each child "
          f"exits at once and the parent waits for it; {rounds} rounds, the candidates taking turns. "
          "Milliseconds: *parent paused* is from the parent's `STOP` event to its `RESUME` event (QEMU's "
          "timestamps); *request → child running* is from the ForkRequest's arrival at ukp-host to the "
          "return of `cont` on the child (ukp-host's clock). Medians, with the lowest and highest in "
          "parentheses; *load* is the 1-minute load average when each fork was recorded (its median and "
          "range): the machine is shared, and TCG runs one VM on about one core, so load inflates every "
          f"number. Target (issue #17): parent paused ≤ {PAUSE_TARGET} ms, child running ≤ {RUNNING_TARGET} ms.\n")
    if loads:
        print(f"Load average while measured: {min(loads):.1f}–{max(loads):.1f} (median {statistics.median(loads):.1f}) "
              f"on {os.cpu_count()} cores.\n")
    groups = {}
    for row in rows:
        groups.setdefault((row["candidate"], row["memory_mib"]), []).append(row)
    order = candidates.split()
    keys = sorted(groups, key=lambda key: (order.index(key[0]) if key[0] in order else len(order), key[1]))

    print("### Summary\n")
    print("| candidate | guest | forks | parent paused | request → child running | load | target met |")
    print("|---|---|---|---|---|---|---|")
    for candidate, memory in keys:
        group = groups[(candidate, memory)]
        paused, running = median(group, "paused_ms"), median(group, "child_running_ms")
        met = paused is not None and paused <= PAUSE_TARGET and running <= RUNNING_TARGET
        print(f"| {label(candidate, group)} | {memory} MiB | {len(group)} | {show(paused, 1)} | {show(running)} | "
              f"{show(median(group, 'load_avg'), 1)} | {'yes' if met else 'no'} |")

    for candidate in dict.fromkeys(candidate for candidate, _ in keys):
        mode = candidate.split(":")[0]
        print(f"\n### {candidate}\n")
        print(ABOUT.get(mode, ""))
        if ":" in candidate:
            print(f"With `{' '.join(candidate.split(':')[1:])}`.")
        extras = EXTRAS.get(mode, [])
        print()
        titles = ["guest", "forks", "parent paused", "request → child running",
                  "first forks of a run: paused / running", "load"] + [title for _, title in extras]
        print("| " + " | ".join(titles) + " |")
        print("|---" * len(titles) + "|")
        for memory in sorted(memory for c, memory in keys if c == candidate):
            group = groups[(candidate, memory)]
            first = [row for row in group if row.get("fork_index") == 0]
            cells = [f"{memory} MiB{' (fell back to live)' if fell_back(candidate, group) else ''}", str(len(group)),
                     spread(group, "paused_ms"), spread(group, "child_running_ms"),
                     f"{show(median(first, 'paused_ms'), 1)} / {show(median(first, 'child_running_ms'))}",
                     f"{show(median(group, 'load_avg'), 1)} ({show(min(r['load_avg'] for r in group), 1)}–"
                     f"{show(max(r['load_avg'] for r in group), 1)})"]
            cells += [show(median(group, key), 1) for key, _ in extras]
            print("| " + " | ".join(cells) + " |")


def fell_back(candidate, group):
    return any(row["migration"] != candidate.split(":")[0] for row in group)


def label(candidate, group):
    return f"{candidate} (fell back to live)" if fell_back(candidate, group) else candidate


if __name__ == "__main__":
    main()
