#!/usr/bin/env bash
# rustfmt, then clippy over the core (lib, tests, benches) and the binding, warnings as errors.
# Clippy runs as the workspace rustc wrapper (scripts/env.sh), so this builds exactly what the
# tests and the addon use, and a fresh build replays the warnings cargo cached.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
host=$(rustc -vV | sed -n 's/^host: //p')

cargo fmt --all --check
[[ "${RUSTC_WORKSPACE_WRAPPER:-}" == *clippy-driver* ]] || {
  echo "rust-lints: clippy is not installed: rustup component add clippy" >&2; exit 1; }
log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
{
  cargo build -p persisting-node --target "$host" --message-format short &&
    cargo test -p persisting-core --target "$host" --no-run --lib --tests --benches --message-format short
} >"$log" 2>&1 || status=$?
if [[ $status -ne 0 ]] || grep -qE '(^|: )(warning|error)(\[|:)' "$log"; then
  grep -vE '^\s+(Compiling|Finished|Executable|Fresh|Blocking)' "$log" >&2
  echo "rust-lints: the build has warnings or errors (clippy and rustc warnings are errors here)" >&2
  exit 1
fi
