#!/usr/bin/env bash
# Small-read round trip through the kernel: a minimal C libfuse low-level server
# against other servers, measured in the same run.
#
#   Benchmarks/fuse-read.sh [-r ROUNDS] [-p CPU] [-c "CLIENT ARGS"] [-d ENTRIES] [NAME=COMMAND ...]
#
# Each server command is run as `COMMAND MOUNTPOINT` and must serve a file
# `status` at the mount's root. The C baseline always runs first; the script
# alternates servers for ROUNDS rounds (default 3) and reports, per server, the
# median over rounds of the 1-thread median/p99 pread latency and of the
# 4-thread throughput, with the ratio to C. With -p, servers and client all run
# on that one CPU (no cross-CPU wake-ups: the least noisy comparison). With -d,
# servers are also started with `-n ENTRIES` and a full getdents64 scan of
# `dir` (32 KiB buffer) is timed. Example:
#
#   Benchmarks/fuse-read.sh swift=".build-fuse/release/vfs-bench-server"
#
# Every mount is removed in every outcome (trap: SIGTERM to the server, then
# fusermount3 -u, then umount -l).
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
out="$here/out"
rounds=3
client_args="-i 20000 -w 2000 -t 4 -s 3"
pin=()
dir_entries=0
while getopts "r:c:p:d:" opt; do
    case "$opt" in
        r) rounds="$OPTARG" ;;
        p) pin=(taskset -c "$OPTARG") ;;
        d) dir_entries="$OPTARG" ;;
        c) client_args="$OPTARG" ;;
        *) echo "usage: $0 [-r ROUNDS] [-p CPU] [-c CLIENT_ARGS] [-d ENTRIES] [NAME=COMMAND ...]" >&2; exit 2 ;;
    esac
done
shift $((OPTIND - 1))

if [ ! -e /dev/fuse ]; then echo "SKIPPED: /dev/fuse missing" >&2; exit 0; fi

mkdir -p "$out"
cflags="-O2 -Wall -Wextra"
cc $cflags $(pkg-config --cflags fuse3) -o "$out/c-server" "$here/c-baseline/server.c" $(pkg-config --libs fuse3)
cc $cflags -pthread -o "$out/preadbench" "$here/client/preadbench.c"
cc $cflags -o "$out/readdirbench" "$here/client/readdirbench.c"

names=(c)
commands=("$out/c-server")
for arg in "$@"; do
    names+=("${arg%%=*}")
    commands+=("${arg#*=}")
done

mnt="$(mktemp -d /tmp/fuse-read.XXXXXX)"
server_pid=""

unmount() {
    if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
        kill -TERM "$server_pid" 2>/dev/null || true
        for _ in $(seq 50); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
    server_pid=""
    if grep -q " $mnt " /proc/mounts; then
        fusermount3 -u "$mnt" 2>/dev/null || umount -l "$mnt" 2>/dev/null || true
    fi
}
cleanup() { unmount; rmdir "$mnt" 2>/dev/null || true; }
trap cleanup EXIT
trap 'exit 130' INT TERM

mount_server() {
    # shellcheck disable=SC2086
    "${pin[@]}" $1 ${2:-} "$mnt" 2>"$out/server.log" &
    server_pid=$!
    for _ in $(seq 200); do
        if grep -q " $mnt " /proc/mounts && [ -e "$mnt/status" ]; then return 0; fi
        if ! kill -0 "$server_pid" 2>/dev/null; then break; fi
        sleep 0.05
    done
    echo "fuse-read: server '$1' did not mount:" >&2
    cat "$out/server.log" >&2
    exit 1
}

declare -A results
for round in $(seq "$rounds"); do
    for i in "${!names[@]}"; do
        mount_server "${commands[$i]}"
        # shellcheck disable=SC2086
        line="$("${pin[@]}" "$out/preadbench" $client_args "$mnt/status")"
        unmount
        echo "round $round ${names[$i]}: $line" >&2
        results[${names[$i]}]+="$line"$'\n'
    done
done

field() { sed -n "s/.*$1=\([0-9.]*\).*/\1/p"; }
median() { sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

c_median="$(printf '%s' "${results[c]}" | field median_us | median)"
c_rps="$(printf '%s' "${results[c]}" | field reads_per_s | median)"
printf '%-10s %12s %10s %14s %10s %10s\n' server median_us p99_us reads_per_s lat_ratio rps_ratio
for name in "${names[@]}"; do
    m="$(printf '%s' "${results[$name]}" | field median_us | median)"
    p="$(printf '%s' "${results[$name]}" | field p99_us | median)"
    r="$(printf '%s' "${results[$name]}" | field reads_per_s | median)"
    printf '%-10s %12s %10s %14s %10s %10s\n' "$name" "$m" "$p" "$r" \
        "$(awk -v a="$m" -v b="$c_median" 'BEGIN { printf "%.2f", a / b }')" \
        "$(awk -v a="$r" -v b="$c_rps" 'BEGIN { printf "%.2f", a / b }')"
done

if [ "$dir_entries" -gt 0 ]; then
    echo
    printf '%-10s %10s %12s %10s %16s\n' server entries median_ms min_ms getdents_calls
    for i in "${!names[@]}"; do
        mount_server "${commands[$i]}" "-n $dir_entries"
        line="$("${pin[@]}" "$out/readdirbench" -r 5 "$mnt/dir")"
        unmount
        printf '%-10s %10s %12s %10s %16s\n' "${names[$i]}" \
            "$(echo "$line" | field entries)" "$(echo "$line" | field median_ms)" \
            "$(echo "$line" | field min_ms)" "$(echo "$line" | field getdents_calls)"
    done
fi
