#!/usr/bin/env bash
# index.d.ts is generated from the Rust binding by napi-rs and committed; a build must not
# change it. Fails when the committed file and the Rust source disagree.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! git ls-files --error-unmatch index.d.ts >/dev/null 2>&1; then
  echo "index.d.ts is not committed yet; skipping drift check"
  exit 0
fi
if ! git diff --quiet -- index.d.ts index.cjs; then
  echo "index.d.ts / index.cjs differ from the committed version after the native build:"
  git --no-pager diff --stat -- index.d.ts index.cjs
  echo "commit the regenerated files (they come from crates/persisting-node)"
  exit 1
fi
echo "index.d.ts matches the Rust binding"
