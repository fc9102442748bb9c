#!/usr/bin/env bash
# Release build of the native addon into the per-platform npm package (npm/<platform>/), as a
# release job publishes it and as the benchmarks measure it: thin LTO, stripped (Cargo.toml
# [profile.release]). The loader and typings it generates must equal the committed ones.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh

host=$(rustc -vV | sed -n 's/^host: //p')
case "$host" in
  x86_64-unknown-linux-gnu) dir=npm/linux-x64-gnu ;;
  aarch64-unknown-linux-gnu) dir=npm/linux-arm64-gnu ;;
  x86_64-apple-darwin) dir=npm/darwin-x64 ;;
  aarch64-apple-darwin) dir=npm/darwin-arm64 ;;
  x86_64-pc-windows-msvc) dir=npm/win32-x64-msvc ;;
  *) echo "prebuild: no npm package is declared for $host" >&2; exit 1 ;;
esac

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
start=$(date +%s)
npx napi build --platform --release --target "$host" --manifest-path crates/persisting-node/Cargo.toml \
  --output-dir "$tmp" --js binding.cjs --dts binding.d.cts >/dev/null
for f in binding.cjs binding.d.cts; do
  cmp -s "$tmp/$f" "$f" || { echo "prebuild: the release build generated a different $f; run npm run build:native and commit it" >&2; exit 1; }
done
mv "$tmp"/persisting.*.node "$dir/"
echo "prebuild: $(ls "$dir"/*.node) ($(du -h "$dir"/*.node | cut -f1)) in $(( $(date +%s) - start ))s"
