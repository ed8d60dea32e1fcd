#!/usr/bin/env bash
# Sets up and runs the daemon on the sim platform: the ukp tree at /uk/libukp and the
# simulator's control tree at /uk/sim (override with UKP_MOUNT / UKP_SIM). Extra
# arguments go to ukp-fuse. Stop it with Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/opt/swift/usr/bin:$PATH"
./scripts/install-deps.sh
swift build -c release --product ukp-fuse
exec .build/release/ukp-fuse --mountpoint "${UKP_MOUNT:-/uk/libukp}" --sim-control "${UKP_SIM:-/uk/sim}" "$@"
