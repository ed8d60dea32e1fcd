#!/usr/bin/env bash
# Runs the package-benchmark micro-benchmarks in Benchmarks/Micro (release build) and
# prints their table, preceded by the date, the core count and the load average.
#
#   Benchmarks/micro.sh                       # every benchmark
#   Benchmarks/micro.sh --filter 'readdir.*'  # extra arguments go to `swift package benchmark`
#
# Builds in Benchmarks/Micro/.build (git-ignored); the root package's .build is not touched.
# Malloc counts need the benchmark package's MallocInterposer trait (see Micro/Package.swift).
set -euo pipefail
cd "$(dirname "$0")/Micro"
echo "date: $(date -u '+%Y-%m-%d %H:%M UTC')  nproc: $(nproc)  load average: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "commit: $(git rev-parse --short HEAD)  swift: $(swift --version 2>/dev/null | head -1)"
# SwiftPM reuses the build plan of a path dependency and then misses files added to the
# root package since the last run ("cannot find 'X' in scope"): plan afresh each time.
find .build -maxdepth 3 -name description.json -delete 2>/dev/null || true
exec swift package --disable-sandbox benchmark --no-progress --format text "$@"
