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
exec swift package --disable-sandbox benchmark --no-progress --format text "$@"
