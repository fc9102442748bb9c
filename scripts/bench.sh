#!/usr/bin/env bash
# `npm run bench`: the side-by-side benchmarks on what users get, the release binary of
# `npm run prebuild` (npm/<platform>/), not the dev build the tests use.
#   bash scripts/bench.sh [benches/run.js args: --quick, --only=..., --no-write]
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/prebuild.sh
bin=$(ls "$PWD"/npm/*/persisting.*.node | head -1)
export PERSISTING_NATIVE_LIBRARY_PATH="$bin"
export PERSISTING_BENCH_BUILD="release (thin LTO, stripped): ${bin#$PWD/}"
node benches/run.js "$@"
