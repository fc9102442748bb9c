#!/usr/bin/env bash
# Rust core micro-benchmarks (criterion), then docs/benchmarks-core.md from this run's results.
#   bash scripts/bench-core.sh [criterion args, e.g. --measurement-time 3 or a filter]
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
# Same --target as `npm run prebuild`, so the release-compiled Lance tree is shared; the bench
# profile inherits release (thin LTO): the core is measured as users get it.
host=$(rustc -vV | sed -n 's/^host: //p')
start=$(date +%s)
cargo bench -p persisting-core --target "$host" --bench core -- "$@"
node benches/core-report.js "$CARGO_TARGET_DIR/criterion" "$start" "bash scripts/bench-core.sh $*"
