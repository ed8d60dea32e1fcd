#!/usr/bin/env bash
# A server command for Benchmarks/fuse-read.sh: serves a live ukp child's
# `/vm/<uuid>/status` as MOUNTPOINT/status.
#
#   UKP_FUSE=.build-bench/release/ukp-fuse Benchmarks/ukp-status-server.sh MOUNTPOINT
#
# Starts ukp-fuse (sim platform, release build) on a private mount point, forks
# one child by writing `fork`, and bind-mounts that child's directory on
# MOUNTPOINT, so `MOUNTPOINT/status` is the child's status file served by the
# daemon. SIGTERM/SIGINT/exit: unmount the bind, stop the daemon (it unmounts).
set -euo pipefail
mnt="$1"
ukp="${UKP_FUSE:?set UKP_FUSE to the ukp-fuse binary}"
private="$(mktemp -d /tmp/ukp-status.XXXXXX)"
pid=""
cleanup() {
    trap - EXIT INT TERM
    if grep -q " $mnt " /proc/mounts; then umount "$mnt" 2>/dev/null || umount -l "$mnt" 2>/dev/null || true; fi
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid" 2>/dev/null || true
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    fi
    if grep -q " $private " /proc/mounts; then fusermount3 -u "$private" 2>/dev/null || umount -l "$private" 2>/dev/null || true; fi
    rmdir "$private" 2>/dev/null || true
    rm -rf "$private.state"
}
trap cleanup EXIT
trap 'exit 0' INT TERM
"$ukp" --mountpoint "$private" --state-dir "$private.state" --log-level warning &
pid=$!
for _ in $(seq 400); do
    if grep -q " $private " /proc/mounts && [ -e "$private/fork" ]; then break; fi
    kill -0 "$pid" 2>/dev/null || { echo "ukp-status-server: ukp-fuse exited" >&2; exit 1; }
    sleep 0.05
done
exec 3>"$private/fork"
printf 1 >&3
exec 3>&-
child="$(cat "$private/fork")"
for _ in $(seq 100); do
    [ "$(cat "$private/vm/$child/status")" = Running ] && break
    sleep 0.05
done
mount --bind "$private/vm/$child" "$mnt"
echo "ukp-status-server: serving $private/vm/$child/status as $mnt/status" >&2
while kill -0 "$pid" 2>/dev/null; do wait "$pid" || true; done
