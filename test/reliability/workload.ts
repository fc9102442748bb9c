// The fixed workload the strace tests run (durable-writer.mjs mode `workload`), and a
// counting pass that tells how many calls of each kind it makes and which of them touch the
// bucket directory.
import * as fs from 'node:fs'
import { runChild } from './driver.mjs'
import { callIndex, IO_CALLS, parseTrace, straceWrap, VARIANTS, type CallEntry } from './strace.js'

/** walSyncInterval 0 (an ack = fsynced), explicit flushes, a small WAL that rotates mid-way. */
export const WORKLOAD_OPTIONS = { walSyncInterval: 0, flushThreshold: 100_000, maxWalSize: 2048, compactionThreshold: 0 }

/** Every syscall name the tests inject into: the listed calls and the variants of each. */
export function allCalls(kinds: string[] = IO_CALLS): string[] {
  return kinds.flatMap((k) => [k, ...(VARIANTS[k] ?? [])])
}

/**
 * Runs the workload once under `strace -f -y` (no injection) in `dir` and returns, per call
 * name, the busiest thread's count and the per-thread indexes k whose call touched the bucket.
 */
export async function countCalls(dir: string, traceFile: string, kinds: string[] = IO_CALLS) {
  const file = traceFile
  const run = await runChild({
    dir,
    mode: 'workload',
    options: WORKLOAD_OPTIONS,
    wrap: straceWrap({ calls: allCalls(kinds), out: file, decodeFds: true }),
  })
  const events = parseTrace(fs.readFileSync(file, 'utf8'))
  return { run, index: callIndex(events, fs.realpathSync(dir)) }
}

/** Which k to try for one call name: every one in full mode, else a spread of bucket calls. */
export function pickKs(entry: CallEntry | undefined, { full, sample }: { full: boolean; sample: number }): number[] {
  if (!entry) return []
  if (full) return Array.from({ length: entry.max }, (_, i) => i + 1)
  const ks = entry.bucketKs
  if (ks.length <= sample) return ks
  if (sample <= 1) return [ks[Math.floor(ks.length / 2)]]
  const picked = new Set<number>()
  for (let i = 0; i < sample; i++) picked.add(ks[Math.round((i * (ks.length - 1)) / (sample - 1))])
  return [...picked]
}
