// Shared by every case: parsed arguments, work dirs, the stall watchdog and the RESULT line.
import fs from 'node:fs'
import path from 'node:path'
import { maxRssMB, tmpDir } from '../lib/util.js'

export const args = JSON.parse(process.argv[2] ?? '{}')

/** A fresh directory for this case: under the runner's per-case dir (which the runner deletes
 * even when it has to kill us), or under os.tmpdir() when run by hand. */
export function workDir(tag) {
  return args.workDir ? fs.mkdtempSync(path.join(args.workDir, `${tag}-`)) : tmpDir(tag)
}
export const now = () => performance.now()

// Watchdog: a case that makes no progress for STALL_SEC reports what it knows and exits, so a
// hung library call shows up as a precise error instead of the runner's timeout.
const STALL_SEC = args.stallSec ?? 30
let lastProgress = now()
let stallInfo = () => ({})
export const touch = () => {
  lastProgress = now()
}
setInterval(() => {
  if (now() - lastProgress < STALL_SEC * 1000) return
  let info
  try {
    info = stallInfo()
  } catch (err) {
    info = { statsError: String(err) }
  }
  process.stdout.write(
    `RESULT ${JSON.stringify({ error: `stalled: no progress for ${STALL_SEC} s (a library call never returned); state: ${JSON.stringify(info)}`, maxRssMB: maxRssMB() })}\n`,
  )
  process.exit(3)
}, 1000).unref()

/** Lets the watchdog report a backend's native stats (synchronous) when a case hangs. */
export function watchBackend(b) {
  stallInfo = () => {
    const s = b.store?.stats?.()
    return s ? { totalCount: s.totalCount, bufferCount: s.bufferCount, persistedCount: s.persistedCount, version: s.version, fragments: s.fragments, walFsyncs: s.walFsyncs } : {}
  }
}

export const cpuSec = () => {
  const u = process.cpuUsage()
  return (u.user + u.system) / 1e6
}

export function emit(obj) {
  process.stdout.write(`RESULT ${JSON.stringify({ ...obj, maxRssMB: maxRssMB(), cpuSec: cpuSec() })}\n`)
}
