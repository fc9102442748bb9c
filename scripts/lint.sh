#!/usr/bin/env bash
# `npm run lint`: rustfmt and clippy (warnings are errors) over the core and the binding.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
host=$(rustc -vV | sed -n 's/^host: //p')
cargo fmt --all --check
cargo clippy -p persisting-core -p persisting-node --target "$host" --all-targets --quiet -- -D warnings
