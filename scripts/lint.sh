#!/usr/bin/env bash
# Fails on unformatted Swift (swift-format, configured by .swift-format: `swift format
# format --in-place` fixes most of it) and on compiler warnings in this package's own code
# (a clean build's log, given as $1: warnings of dependencies are not ours to fix).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/opt/swift/usr/bin:$PATH"
status=0
mapfile -t files < <(git ls-files '*.swift')
if ! swift format lint --strict --parallel "${files[@]}"; then
    echo "lint.sh: unformatted Swift (above): run swift format format --in-place --parallel \$(git ls-files '*.swift')" >&2
    status=1
fi
if [ -n "${1:-}" ]; then
    root="$(pwd)"
    if grep -E "^($root/)?(Sources|Tests|Examples|Benchmarks)/[^:]+:[0-9]+:[0-9]+: warning:" "$1" | sort -u >&2; then
        echo "lint.sh: the build has compiler warnings (above)" >&2
        status=1
    fi
fi
exit "$status"
