#!/usr/bin/env bash
# Sourced by setup.sh and test.sh, so every cargo invocation sees the same environment (a
# changed PROTOC would make cargo rerun the lance build scripts).

# Compiled Lance/DataFusion live outside the clone so every clone and CI run reuses them.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/persisting-target}"
mkdir -p "$CARGO_TARGET_DIR"

# protoc and its well-known .proto includes (the lance crate's build scripts need both) come from
# the protoc-bin-vendored crate on crates.io: no root, no system package, pinned by checksum.
protoc_ver=3.1.0
protoc_sha=5462592380cefdc9f1f14635bcce70ba9c91c1c2464c7feb2ce564726614cc41
protoc_dir="$HOME/.cache/persisting-tools/protoc-$protoc_ver"
if [[ -z "${PROTOC:-}" ]]; then
  if [[ ! -x "$protoc_dir/bin/protoc" ]]; then
    [[ $(uname -sm) == "Linux x86_64" ]] || {
      echo "setup: no vendored protoc for $(uname -sm); install protoc with its include files" \
           "and set PROTOC and PROTOC_INCLUDE" >&2; exit 1; }
    echo "setup: fetching protoc $protoc_ver (protoc-bin-vendored, crates.io)"
    tmp=$(mktemp -d)
    curl -fsSL --retry 3 -o "$tmp/p.crate" \
      "https://static.crates.io/crates/protoc-bin-vendored-linux-x86_64/protoc-bin-vendored-linux-x86_64-$protoc_ver.crate"
    echo "$protoc_sha  $tmp/p.crate" | sha256sum -c --quiet
    tar xzf "$tmp/p.crate" -C "$tmp"
    mkdir -p "$(dirname "$protoc_dir")"
    rm -rf "$protoc_dir"
    mv "$tmp/protoc-bin-vendored-linux-x86_64-$protoc_ver" "$protoc_dir"
    chmod +x "$protoc_dir/bin/protoc"
    rm -rf "$tmp"
  fi
  export PROTOC="$protoc_dir/bin/protoc" PROTOC_INCLUDE="$protoc_dir/include"
fi

# Clippy lints our two crates while they compile: clippy-driver is the rustc of workspace members
# only, so the lints cost no second (check-mode) build of Lance and DataFusion, and every build
# (setup, tests, prebuild) shares one fingerprint. scripts/rust-lints.sh fails on any warning.
use_clippy_driver() {
  local driver
  [[ -n "${RUSTC_WORKSPACE_WRAPPER:-}" ]] && return 0
  driver=$(rustup which clippy-driver 2>/dev/null) || driver=$(command -v clippy-driver 2>/dev/null) || return 0
  "$driver" -V >/dev/null 2>&1 && export RUSTC_WORKSPACE_WRAPPER="$driver"
  return 0
}
use_clippy_driver
