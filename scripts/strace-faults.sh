#!/usr/bin/env bash
# Syscall-level fault runs under strace: kill -9 and EIO/ENOSPC at the k-th write, pwrite64,
# fsync, fdatasync, rename, unlink or ftruncate of a fixed workload, plus the fsync-ordering check.
#   bash scripts/strace-faults.sh          the bounded default (what the test suite runs)
#   bash scripts/strace-faults.sh --full   every k the workload reaches (long)
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ "${1:-}" == "--full" ]]; then
  export PERSISTING_STRACE_FULL=1
  shift
fi
npx vitest run test/reliability/strace-kill.test.ts test/reliability/io-errors.test.ts test/reliability/fsync-order.test.ts "$@"
