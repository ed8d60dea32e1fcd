#!/usr/bin/env bash
# Sets up and runs every test: the Swift suites (in-process and through the kernel)
# and the end-to-end tests with ordinary clients. Tests that need /dev/fuse say
# loudly when they are skipped.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/opt/swift/usr/bin:$PATH"
./scripts/install-deps.sh
if [ ! -e /dev/fuse ]; then
    echo "!!!!!!!! SKIPPED: /dev/fuse is missing: every kernel-mount test is skipped !!!!!!!!" >&2
fi
swift build --build-tests
swift test --skip-build
