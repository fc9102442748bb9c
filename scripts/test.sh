#!/usr/bin/env bash
# The whole test suite: rustfmt and clippy, Rust core tests, the generated-typings drift check, type checks of src/ and test/, and Vitest.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh

# napi builds with an explicit --target; testing with the same one shares every compiled crate.
host=$(rustc -vV | sed -n 's/^host: //p')
echo "== rustfmt and clippy (warnings are errors; the same as npm run lint)"
bash scripts/rust-lints.sh

echo "== cargo test (persisting-core)"
cargo test -p persisting-core --target "$host" --quiet

echo "== binding.d.cts drift check"
bash scripts/check-dts.sh

echo "== tsc (sources, then tests: strict, no emit)"
npx tsc -p tsconfig.json
npx tsc -p test/tsconfig.json

echo "== vitest"
npx vitest run "$@"
