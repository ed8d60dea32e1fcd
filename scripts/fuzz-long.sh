#!/usr/bin/env bash
# Long model-based fuzzing of the fork engine through its tree (Tests/LibUKPTests/TreeModelFuzzTests.swift):
# rounds with random seeds, each UKP_FUZZ_OPS operations (default 1,000,000).
#
#   scripts/fuzz-long.sh [ROUNDS]         default 10 rounds; 0 runs until a divergence
#   UKP_FUZZ_SEED=N scripts/fuzz-long.sh  one round with that seed (reproduce a failure)
#   UKP_FUZZ_OPS, UKP_FUZZ_RUN_LENGTH (operations per fresh engine, default 250),
#   UKP_FUZZ_PARALLEL (runs at a time), SCRATCH (build directory, default .build-fuzz)
#
# A divergence prints the seed, the configuration and the operation sequence shrunk by delta
# debugging, and this script exits non-zero.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/opt/swift/usr/bin:$PATH"
rounds="${1:-10}"
scratch="${SCRATCH:-.build-fuzz}"
export UKP_FUZZ_OPS="${UKP_FUZZ_OPS:-1000000}"
if [ -n "${UKP_FUZZ_SEED:-}" ]; then rounds=1; fi

swift build --build-tests --scratch-path "$scratch"
round=0
while [ "$rounds" -eq 0 ] || [ "$round" -lt "$rounds" ]; do
    round=$((round + 1))
    seed="${UKP_FUZZ_SEED:-$(od -An -N8 -tu8 /dev/urandom | tr -d ' ')}"
    echo "fuzz-long: round $round, seed $seed, $UKP_FUZZ_OPS operations"
    if ! UKP_FUZZ_SEED="$seed" swift test --skip-build --scratch-path "$scratch" \
        --filter 'TreeModelFuzzTests/theEngineBehavesLikeTheModel'; then
        echo "fuzz-long: DIVERGENCE with seed $seed; reproduce with" >&2
        echo "  UKP_FUZZ_SEED=$seed UKP_FUZZ_OPS=$UKP_FUZZ_OPS UKP_FUZZ_RUN_LENGTH=${UKP_FUZZ_RUN_LENGTH:-250} scripts/fuzz-long.sh" >&2
        exit 1
    fi
done
echo "fuzz-long: $round rounds without divergence"
