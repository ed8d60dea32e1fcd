#!/usr/bin/env bash
# Measures real VM forks with ukp-host: for each guest size and each candidate (a way of
# copying the parent for the child), a guest touches TOUCH_MIB MiB and then forks FORKS times
# (each child exits at once, the parent waits for it); that is repeated ROUNDS times, the
# candidates taking turns so that the load of the machine falls on all of them alike. The
# host records how long the parent was paused and when the child was running, with the load
# average. Prints a table per candidate and writes them to docs/vm-fork-benchmark.md.
#
#   Host/bench-fork.sh [MEMORY_MIB ...]     default: 128 512
#   FORKS=3 ROUNDS=3 TOUCH_MIB=24 UKP_GUEST_IMAGE=.build-guest
#   CANDIDATES="reflink live background shm file"   a candidate is a --migration mode, optionally
#       with more ukp-host options after colons: reflink:--flush-interval=0
#   OUT=docs/vm-fork-benchmark.md   RESULTS=FILE: keep the fork records (JSON lines) there too
#   VM_LOCK=/tmp/ukp-vm.lock   on a shared machine: run each ukp-host under `flock VM_LOCK`
# Needs root for reflink (else ukp-host falls back to live, and the tables say so).
set -euo pipefail
cd "$(dirname "$0")/.."
image=${UKP_GUEST_IMAGE:-$PWD/.build-guest}
[ -e "$image/initrd.gz" ] || Host/guest/build-image.sh "$image"
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(128 512)
forks=${FORKS:-3}
rounds=${ROUNDS:-3}
touch_mib=${TOUCH_MIB:-24}
candidates=${CANDIDATES:-${MIGRATIONS:-reflink live background shm file}}
out=${OUT:-docs/vm-fork-benchmark.md}
for number in "$forks" "$rounds" "$touch_mib" "${sizes[@]}"; do
    [[ $number =~ ^[1-9][0-9]*$ ]] || { echo "bench-fork: not a positive number: '$number'" >&2; exit 2; }
done
min=$(cat "$image/min-memory-mib" 2>/dev/null || echo 128)
work=$(mktemp -d)
trap 'echo "bench-fork: stopped; the runs so far are in $work" >&2' EXIT
cat > "$work/app.sh" <<APP
# Touch ${touch_mib} MiB (a tmpfs file in guest memory), then fork ${forks} times.
dd if=/dev/urandom of=/tmp/touched bs=1M count=${touch_mib} 2>/dev/null
for i in \$(seq ${forks}); do
    echo 1 > /uk/libukp/fork || exit 1
    me=\$(cat /uk/libukp/fork)
    [ "\$me" = 00000000-0000-0000-0000-000000000000 ] && exit 0
    echo 1 > /uk/libukp/vm/\$me/wait
done
APP
results=$work/results.jsonl
: > "$results"
for memory in "${sizes[@]}"; do
    if [ "$memory" -lt "$min" ]; then
        echo "bench-fork: skipping ${memory} MiB: this image needs at least ${min} MiB" >&2
        continue
    fi
    for round in $(seq "$rounds"); do
        for candidate in $candidates; do
            IFS=: read -r migration options <<< "$candidate"
            run=$work/$memory-$round-${candidate//[^a-z0-9]/_}
            mkdir -p "$run"
            echo "bench-fork: ${memory} MiB, ${candidate}, round ${round}/${rounds}: ${forks} forks" >&2
            lock=()
            [ -z "${VM_LOCK:-}" ] || lock=(flock "$VM_LOCK")
            # shellcheck disable=SC2086 # the options are words
            "${lock[@]}" Host/ukp-host --image "$image" --app "$work/app.sh" --memory "$memory" --migration "$migration" \
                ${options//:/ } --state-dir "$run" > "$run.log" 2>&1 \
                || { echo "bench-fork: ukp-host failed:" >&2; tail -20 "$run.log" >&2; exit 1; }
            grep -h "FALLING BACK" "$run.log" >&2 || true
            [ -r "$run/forks.jsonl" ] || { echo "bench-fork: no fork records in $run" >&2; exit 1; }
            CANDIDATE=$candidate python3 -c '
import json, os, sys
for index, line in enumerate(sys.stdin):
    row = json.loads(line)
    row["candidate"], row["fork_index"] = os.environ["CANDIDATE"], index
    print(json.dumps(row))' < "$run/forks.jsonl" >> "$results"
        done
    done
done
[ -z "${RESULTS:-}" ] || cp "$results" "$RESULTS"
python3 Host/bench-fork-report.py "$results" "$forks" "$rounds" "$touch_mib" "$candidates" > "$work/report.md"
cp "$work/report.md" "$out"
cat "$out"
trap - EXIT
rm -rf "$work"
