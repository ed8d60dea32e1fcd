#!/usr/bin/env bash
# CI's deterministic performance gate: the mallocs per operation of the hot paths (a cached
# lookup, a synchronous read, one readdir batch, a parked write's way in and out) must not
# exceed the counts recorded in Benchmarks/Micro/Thresholds/. Wall-clock times are not
# checked here (this machine is shared and noisy; Benchmarks/run compares them with C).
#
#   Benchmarks/micro-check.sh           # check (what .ci/run does)
#   Benchmarks/micro-check.sh update    # record the current counts (after a deliberate change)
set -euo pipefail
cd "$(dirname "$0")/Micro"
gated='lookup-cached|read-sync-handler|readdir-batch-512|parked-write-park-and-release'
find .build -maxdepth 3 -name description.json -delete 2>/dev/null || true
export UKP_MICRO_QUICK=1
case "${1:-check}" in
    check)
        exec swift package --disable-sandbox benchmark thresholds check --no-progress --metric mallocCountTotal \
            --path Thresholds --filter "$gated" ;;
    update)
        exec swift package --disable-sandbox --allow-writing-to-package-directory benchmark thresholds update \
            --no-progress --metric mallocCountTotal --path Thresholds --filter "$gated" ;;
    *) echo "usage: Benchmarks/micro-check.sh [check|update]" >&2; exit 2 ;;
esac
