#!/usr/bin/env bash
# The S3-compatible server of the object-store tests: s3s-fs from crates.io, which serves a
# local directory over the S3 protocol (conditional puts included, which Lance's commits and
# our bucket leases rely on). Built once per machine into $HOME/.cache/persisting-tools.
#   --build   build it if missing (setup.sh --test does this)
#   --path    print the binary's path (empty output when it is not built)
set -euo pipefail
version=0.14.1
root="$HOME/.cache/persisting-tools/s3s-fs-$version"
bin="$root/bin/s3s-fs"
case "${1:---path}" in
  --path) [[ -x "$bin" ]] && echo "$bin"; exit 0 ;;
  --build) ;;
  *) echo "usage: $0 [--build|--path]" >&2; exit 2 ;;
esac
[[ -x "$bin" ]] && exit 0
echo "setup: building s3s-fs $version (the S3 server of the object-store tests; once per machine)"
start=$(date +%s)
# Its own target dir: its dependency features differ from ours, and sharing would rebuild both.
target="$HOME/.cache/persisting-tools/s3s-fs-target"
# A test server: opt-level 1 without LTO builds in a fraction of a full release build's time;
# our clippy wrapper (scripts/env.sh) has no business linting it.
env -u RUSTC_WORKSPACE_WRAPPER CARGO_PROFILE_RELEASE_OPT_LEVEL=1 CARGO_PROFILE_RELEASE_LTO=false CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16 \
CARGO_PROFILE_RELEASE_DEBUG=false \
cargo install s3s-fs --version "=$version" --features binary --locked --root "$root" \
  --target-dir "$target" --quiet
rm -rf "$target"
echo "setup: s3s-fs ready in $(( $(date +%s) - start ))s"
