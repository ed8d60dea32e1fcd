#!/usr/bin/env bash
# Sets up and runs every test: the Swift suites (in-process, and through the kernel),
# the end-to-end tests of the daemon with ordinary clients (Tests/e2e), python-periphery
# on the sysfs example, the DocC reference check, the malloc-count gate of the hot paths, and
# lint (swift-format, no compiler warnings). Tests that need /dev/fuse say loudly when they
# are skipped.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/opt/swift/usr/bin:$PATH"
./scripts/install-deps.sh
if [ ! -e /dev/fuse ]; then
    echo "!!!!!!!! SKIPPED: /dev/fuse is missing: every kernel-mount test is skipped !!!!!!!!" >&2
fi
build_log="$(mktemp)"
mounts_before="$(mktemp)"
trap 'rm -f "$build_log" "$mounts_before"' EXIT
fuse_mounts() { grep -E ' fuse(\.| )' /proc/mounts | grep -v '^fusectl' | sort || true; }
fuse_mounts >"$mounts_before"   # mounts that are not ours (another user's daemon) are not leftovers
if [ -s "$mounts_before" ]; then
    echo "test.sh: FUSE mounts present before the tests (not checked as leftovers):" >&2
    cat "$mounts_before" >&2
fi
swift build --build-tests 2>&1 | tee "$build_log"
status=0
scripts/lint.sh "$build_log" || status=$?   # formatted (.swift-format), no compiler warnings
swift test --skip-build || status=$?
UKP_FUSE="$(swift build --show-bin-path)/ukp-fuse" Tests/e2e/run.sh || status=$?
SYSFS_FUSE="$(swift build --show-bin-path)/sysfs-fuse" Examples/Sysfs/tests/run.sh || status=$?   # python-periphery, unshare -m
scripts/docs.sh || status=$?      # the DocC reference builds without a warning (no broken symbol link)
Benchmarks/micro-check.sh || status=$?   # mallocs per operation of the hot paths: no more than recorded
Host/tests/run.sh || status=$?    # a real QEMU VM forks (skipped loudly without QEMU)
if fuse_mounts | comm -13 "$mounts_before" - | grep . >&2; then
    echo "test.sh: FUSE mounts were left behind" >&2
    status=1
fi
exit "$status"
