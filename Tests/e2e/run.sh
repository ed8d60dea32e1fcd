#!/usr/bin/env bash
# End-to-end tests of ukp-fuse through the kernel with ordinary clients (sh, cat, ls,
# stat, Python's standard library). Builds the daemon (debug) unless UKP_FUSE names an
# existing binary, runs every test, and checks that no test mount is left behind.
# Usage: Tests/e2e/run.sh [unittest arguments, e.g. -k sigterm]
# Environment: UKP_FUSE (daemon binary; default .build/debug/ukp-fuse, built here),
# UKP_E2E_MANY (load test size, default 10,000 children and 10,000 waiters),
# UKP_E2E_WATCHDOG (seconds per test before its daemon is killed, default 60),
# UKP_E2E_SEED / UKP_E2E_STRESS_SECONDS (randomized clients, default 1234 / 6),
# UKP_FUSE_DEVICE (default /dev/fuse; point it elsewhere to rehearse the skip path).
set -euo pipefail
cd "$(dirname "$0")/../.."
export PATH="/opt/swift/usr/bin:$PATH"
if [ -z "${UKP_FUSE:-}" ] || [ ! -x "$UKP_FUSE" ]; then
    swift build --product ukp-fuse
    export UKP_FUSE="$(swift build --product ukp-fuse --show-bin-path)/ukp-fuse"
fi
if [ ! -e /dev/fuse ]; then
    echo "!!!!!!!! SKIPPED: /dev/fuse is missing: every end-to-end mount test is skipped !!!!!!!!" >&2
fi
status=0
if [ "$#" -gt 0 ]; then
    python3 -m unittest discover -s Tests/e2e -t Tests/e2e -v "$@" || status=$?
else
    python3 -m unittest discover -s Tests/e2e -t Tests/e2e -v || status=$?
fi
if grep -q '/ukp-e2e-' /proc/mounts; then
    echo "e2e: test mounts left behind:" >&2
    grep '/ukp-e2e-' /proc/mounts >&2
    status=1
fi
exit "$status"
