#!/usr/bin/env bash
# One-time and incremental setup for a fresh clone: system packages, npm packages, the native
# addon and the TypeScript build. Safe to run repeatedly; each step is skipped when current.
#   --test   also install what the test suite needs (promtool, python venv for the pylance check)
set -euo pipefail
cd "$(dirname "$0")/.."

want_test=0
[[ "${1:-}" == "--test" ]] && want_test=1

# Cargo target dir outside the clone and a vendored protoc: shared with scripts/test.sh.
source scripts/env.sh

apt_install() {
  local sudo=""
  [[ $(id -u) -ne 0 ]] && sudo="sudo"
  $sudo apt-get install -y --no-install-recommends "$@" >/dev/null 2>&1 || {
    $sudo apt-get update >/dev/null 2>&1
    $sudo apt-get install -y --no-install-recommends "$@" >/dev/null
  }
}

# What a fresh Debian/Ubuntu machine lacks: a C toolchain (the Rust linker, node-gyp for native
# devDependencies), python3 (node-gyp), curl (the vendored protoc). Installed with apt when we are
# root or have sudo; otherwise one message lists everything to install. Rust itself comes from
# rustup (distribution packages are too old for the lance crate).
missing_pkgs=()
for tool in cc:build-essential c++:build-essential make:build-essential python3:python3 curl:curl; do
  command -v "${tool%%:*}" >/dev/null 2>&1 || missing_pkgs+=("${tool#*:}")
done
missing_pkgs=($(printf '%s\n' "${missing_pkgs[@]}" | sort -u))
if [[ ${#missing_pkgs[@]} -gt 0 ]]; then
  if [[ $(id -u) -eq 0 ]] || sudo -n true 2>/dev/null; then
    echo "setup: installing ${missing_pkgs[*]} (apt)"
    apt_install "${missing_pkgs[@]}" ca-certificates
  else
    need_root_msg="apt-get install ${missing_pkgs[*]} ca-certificates"
  fi
fi
rust_ok=1
if ! command -v cargo >/dev/null 2>&1; then
  rust_ok=0
elif ! printf '%s\n1.94.0\n' "$(rustc -V | cut -d' ' -f2)" | sort -V -C -r 2>/dev/null; then
  rust_ok=0
fi
node_ok=1
printf '20.19.0\n%s\n' "$(node -v | tr -d v)" | sort -V -C || node_ok=0
if [[ -n "${need_root_msg:-}" || $rust_ok -eq 0 || $node_ok -eq 0 ]]; then
  echo "setup: this machine lacks what building from source needs; install, then rerun:" >&2
  [[ -n "${need_root_msg:-}" ]] && echo "  sudo $need_root_msg" >&2
  [[ $rust_ok -eq 0 ]] && echo "  Rust >= 1.94 (https://rustup.rs: curl https://sh.rustup.rs -sSf | sh)" >&2
  [[ $node_ok -eq 0 ]] && echo "  Node.js >= 20.19 (found $(node -v))" >&2
  echo "  (to only use the library, \`npm install persisting\` needs none of this: it ships prebuilt binaries)" >&2
  exit 1
fi

# The test run checks formatting and lints; rustup's minimal profile has neither tool. Every
# build gets clippy (scripts/env.sh), so that the addon built here is the one the tests reuse.
if ! { cargo fmt --version && cargo clippy --version; } >/dev/null 2>&1; then
  echo "setup: adding the rustfmt and clippy components (rustup)"
  if ! rustup component add rustfmt clippy >/dev/null 2>&1 && [[ $want_test -eq 1 ]]; then
    echo "setup: the test run needs cargo fmt and cargo clippy: rustup component add rustfmt clippy" >&2; exit 1
  fi
  use_clippy_driver
fi

if [[ $want_test -eq 1 ]] && ! { command -v promtool && command -v prometheus; } >/dev/null 2>&1; then
  echo "setup: installing prometheus (promtool checks the metrics text; the server scrapes serveMetrics in test/prometheus.test.ts)"
  apt_install prometheus || echo "setup: prometheus unavailable; the promtool check and the Prometheus server test will be skipped"
fi

if [[ $want_test -eq 1 ]] && ! command -v strace >/dev/null 2>&1; then
  echo "setup: installing strace (the syscall-level fault tests kill or fail the k-th I/O call)"
  apt_install strace || echo "setup: strace unavailable; the strace fault tests will be skipped"
fi

# The object-store tests run a real S3-compatible server on loopback: s3s-fs (crates.io), built
# once per machine next to the cargo target dir.
if [[ $want_test -eq 1 ]]; then
  bash scripts/s3-server.sh --build || echo "setup: the S3 server did not build; the object-store tests will be skipped"
fi

# Native devDependencies (better-sqlite3, ...) may compile from source; node-gyp then needs the
# Node headers, which it would download from nodejs.org. Use the installed ones when present.
node_prefix=$(dirname "$(dirname "$(command -v node)")")
if [[ -z "${npm_config_nodedir:-}" && -f "$node_prefix/include/node/node.h" ]]; then
  export npm_config_nodedir="$node_prefix"
fi

if [[ ! -d node_modules || package-lock.json -nt node_modules/.package-lock.json ]]; then
  echo "setup: npm ci"
  # npm ci refuses a lock file that lacks other platforms' optional packages; install then.
  npm ci --no-audit --no-fund --loglevel=error >/dev/null 2>&1 || {
    echo "setup: npm ci refused the lock file; npm install"
    npm install --no-audit --no-fund --loglevel=error
  }
fi

echo "setup: building the native addon (cargo target: $CARGO_TARGET_DIR)"
start=$(date +%s)
npx napi build --platform --manifest-path crates/persisting-node/Cargo.toml --output-dir . --js binding.cjs --dts binding.d.cts >/dev/null
# Drop debug sections after linking (napi's --strip would change RUSTFLAGS and rebuild every crate).
command -v strip >/dev/null 2>&1 && strip persisting.*.node
echo "setup: native addon ready in $(( $(date +%s) - start ))s ($(du -h persisting.*.node | cut -f1))"

echo "setup: compiling TypeScript"
# From scratch, so a file removed from src/ never lingers in dist/ (and in the packed tarball).
rm -rf dist
npx tsc -p tsconfig.json
chmod +x dist/cli.js 2>/dev/null || true
