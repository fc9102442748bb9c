/**
 * I/O errors at every step: strace fails the writer's k-th call of one kind with EIO or
 * ENOSPC during the fixed workload. When the failed call was on the bucket's files:
 *  - the error reaches the caller as a typed error with a code (the child prints it),
 *  - the bucket fails stop: every later put/flush/get/compact fails with BUCKET_FAILED or the
 *    original code, while stats(), totalCount() and close() still work,
 *  - a put rejected because a WAL fsync failed says `indeterminate: true`.
 * Whatever the failed call, a fresh process (no injection) then reopens the bucket: every
 * acknowledged record is there exactly once, in order, and a put rejected without
 * `indeterminate` is absent. PERSISTING_STRACE_FULL=1 tries every k.
 */
import * as fs from 'node:fs'
import * as path from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'
import { check, distBuilt, Ledger, lastWords, runChild, verifyBucket, type ChildRun } from './driver.mjs'
import { parseTrace, straceAvailable, straceWrap, touches, VARIANTS } from './strace.js'
import { countCalls, pickKs, WORKLOAD_OPTIONS } from './workload.js'
import { tmpDir } from '../helpers/tmp.js'

const FULL = process.env.PERSISTING_STRACE_FULL === '1'
const SAMPLE = Number(process.env.PERSISTING_STRACE_SAMPLE ?? 2)
// `write` is in the full run only: strace counts it per thread across Node's own eventfd and
// pipe writes, and an error injected there hangs Node itself, not the library.
const KINDS = FULL ? ['fsync', 'fdatasync', 'write', 'pwrite64', 'rename', 'ftruncate'] : ['fsync', 'fdatasync', 'pwrite64', 'rename', 'ftruncate']
const STATE_CALLS = new Set(['stats', 'totalCount', 'close'])

/**
 * Typed error and fail-stop, from what the child printed in order: the first failure has a
 * code; after it every put/flush/get/compact fails with BUCKET_FAILED or that code, and
 * stats()/totalCount()/close() still work (unless the open itself failed).
 */
function failStopProblems(run: ChildRun): string[] {
  const problems: string[] = []
  const first = run.events.findIndex((e) => !e.ok && !STATE_CALLS.has(e.name))
  if (first < 0) return ['an injected I/O error on the bucket never reached the caller (every call succeeded)']
  const f = run.events[first]
  if (!f.code || f.code.startsWith('UNTYPED')) problems.push(`untyped error from ${f.name}: ${f.code} ${f.message}`)
  for (const e of run.events.slice(first + 1)) {
    if (STATE_CALLS.has(e.name)) {
      if (!e.ok && run.start !== null) problems.push(`${e.name}() failed after the error (must still work): ${e.code} ${e.message}`)
    } else if (e.ok) {
      problems.push(`${e.name}${e.first !== undefined ? ` ${e.first}` : ''} succeeded after ${f.name} failed with ${f.code} (not fail-stop)`)
    } else if (e.code !== 'BUCKET_FAILED' && e.code !== f.code) {
      problems.push(`${e.name} failed with ${e.code} after ${f.code}; expected BUCKET_FAILED: ${e.message}`)
    }
  }
  if (run.signal || !run.done) problems.push(`the writer died (code ${run.code}, signal ${run.signal}): ${lastWords(run)}`)
  return problems
}

describe.skipIf(!straceAvailable() || !distBuilt())('I/O errors (strace inject EIO / ENOSPC)', () => {
  let index: Awaited<ReturnType<typeof countCalls>>['index']

  beforeAll(async () => {
    const counted = await countCalls(tmpDir('persisting-count-'), path.join(tmpDir(), 'count.trace'))
    expect(counted.run.done, lastWords(counted.run)).toBe(true)
    index = counted.index
  }, 60_000)

  for (const errno of ['EIO', 'ENOSPC']) {
    for (const kind of KINDS) {
      it(
        `${kind} fails with ${errno}: typed error, fail-stop, nothing acknowledged lost or duplicated`,
        async () => {
          const failures: string[] = []
          let bucketHits = 0
          let lockHits = 0
          const names = [kind, ...(VARIANTS[kind as keyof typeof VARIANTS] ?? [])].filter((n) => index[n])
          for (const name of names) {
            for (const k of pickKs(index[name], { full: FULL, sample: errno === 'EIO' ? SAMPLE : 1 })) {
              const dir = tmpDir('persisting-eio-')
              const traceFile = path.join(tmpDir(), 'inject.trace')
              const where = `${name}=${errno} k=${k}`
              const run = await runChild({
                dir,
                mode: 'workload',
                options: WORKLOAD_OPTIONS,
                wrap: straceWrap({ calls: [name], out: traceFile, decodeFds: true, inject: `${name}:error=${errno}:when=${k}` }),
                timeoutMs: 10_000, // an error injected into another thread's eventfd write can hang Node
              })
              if (!fs.existsSync(traceFile)) {
                failures.push(`${where}: strace did not run: ${lastWords(run)}`)
                continue
              }
              const real = fs.realpathSync(dir)
              const injected = parseTrace(fs.readFileSync(traceFile, 'utf8')).filter((e) => e.injected)
              const onBucket = injected.filter((e) => touches(e, real))
              // Only judge the library on runs where every injected fault hit its own files
              // (strace also counts eventfd and stdout writes of other threads).
              // The lock file's content (the holder's pid) is informational: a failed write to it
              // need not fail the bucket.
              // Lance's latest_version_hint.json is a hint it rewrites and may fail to write
              // without harm (readers fall back to listing _versions/).
              const informational = (p: string | null) => !!p && (p.endsWith('/LOCK') || p.endsWith('latest_version_hint.json'))
              const onData = onBucket.filter((e) => ![...e.paths, e.fdPath].some(informational))
              if (onBucket.length > 0 && onData.length === 0) lockHits++
              if (injected.length > 0 && onBucket.length === injected.length && onData.length > 0) {
                bucketHits++
                const faults = onBucket.map((e) => `${e.name}(${e.paths.length ? e.paths.join(', ') : e.fdPath})`).join(', ')
                if (run.timedOut) failures.push(`${where} [${faults}]: the writer hung after the injected error`)
                for (const p of failStopProblems(run)) failures.push(`${where} [${faults}]: ${p}`)
                const walSync = onBucket.some((e) => /fsync|fdatasync/.test(e.name) && (e.fdPath ?? '').startsWith(`${real}/wal/`))
                const firstReject = run.rejects[0]
                if (walSync && firstReject && !firstReject.indeterminate && firstReject.code !== 'BUCKET_FAILED') {
                  failures.push(`${where} [${faults}]: put rejected after a failed WAL fsync without indeterminate: ${firstReject.code} ${firstReject.message}`)
                }
              }
              const ledger = new Ledger()
              ledger.add(run)
              const r = check(ledger, await verifyBucket(dir))
              for (const p of r.problems) failures.push(`${where}: after reopen: ${p}`)
            }
          }
          expect(failures).toEqual([])
          if (names.some((n) => index[n].bucketKs.length > 0)) expect(bucketHits + lockHits).toBeGreaterThan(0)
        },
        FULL ? 3_600_000 : 200_000,
      )
    }
  }
})
