#!/usr/bin/env bash
# Rust core micro-benchmarks (criterion), then docs/benchmarks-core.md from this run's results.
#   bash scripts/bench-core.sh [criterion args, e.g. --measurement-time 3 or a filter]
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/persisting-target}"
# Same --target as the addon build, so the compiled Lance tree is shared.
host=$(rustc -vV | sed -n 's/^host: //p')
start=$(date +%s)
cargo bench -p persisting-core --profile dev --target "$host" --bench core -- "$@"
node benches/core-report.js "$CARGO_TARGET_DIR/criterion" "$start" "bash scripts/bench-core.sh $*"
