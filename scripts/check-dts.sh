#!/usr/bin/env bash
# binding.cjs / binding.d.cts are generated from the Rust binding by napi-rs and committed (the
# TypeScript sources and the packed tarball use them); a build must not change them.
set -euo pipefail
cd "$(dirname "$0")/.."
files=(binding.cjs binding.d.cts)
if ! git ls-files --error-unmatch "${files[@]}" >/dev/null 2>&1; then
  echo "binding.d.cts is not committed yet; skipping drift check"
  exit 0
fi
if ! git diff --quiet -- "${files[@]}"; then
  echo "binding.cjs / binding.d.cts differ from the committed version after the native build:"
  git --no-pager diff --stat -- "${files[@]}"
  echo "commit the regenerated files (they come from crates/persisting-node)"
  exit 1
fi
echo "binding.d.cts matches the Rust binding"
