/**
 * kill -9 at every I/O step: strace kills the writer at its k-th call of one kind (write,
 * pwrite64, fsync, fdatasync, rename, unlink, ftruncate and their *at/*v variants) during a
 * fixed workload (durable puts, flushes, a WAL rotation, a compaction, a schema widening).
 * After each kill a fresh process reopens the bucket: every acknowledged record is there
 * exactly once, in order.
 * strace counts `when=k` per thread. The default run tries a spread of the k values whose call
 * touched the bucket in a counting run; PERSISTING_STRACE_FULL=1 (or `npm run test:strace --
 * --full`) tries every k the busiest thread reaches.
 */
import * as path from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'
import { check, distBuilt, Ledger, lastWords, runChild, verifyBucket } from './driver.mjs'
import { IO_CALLS, straceAvailable, straceWrap, VARIANTS } from './strace.js'
import { countCalls, pickKs, WORKLOAD_OPTIONS } from './workload.js'
import { tmpDir } from '../helpers/tmp.js'

const FULL = process.env.PERSISTING_STRACE_FULL === '1'
const SAMPLE = Number(process.env.PERSISTING_STRACE_SAMPLE ?? 3)

describe.skipIf(!straceAvailable() || !distBuilt())('kill -9 at every I/O step (strace)', () => {
  let index: Awaited<ReturnType<typeof countCalls>>['index']

  beforeAll(async () => {
    const dir = tmpDir('persisting-count-')
    const counted = await countCalls(dir, path.join(tmpDir(), 'count.trace'))
    expect(counted.run.done, lastWords(counted.run)).toBe(true)
    expect(counted.run.ops.filter((o) => !o.ok)).toEqual([])
    index = counted.index
  }, 60_000)

  for (const kind of IO_CALLS) {
    it(
      `${kind}: killed at the k-th call, every acknowledged record survives once and in order`,
      async () => {
        const failures: string[] = []
        let killed = 0
        const names = [kind, ...(VARIANTS[kind as keyof typeof VARIANTS] ?? [])].filter((n) => index[n])
        for (const name of names) {
          for (const k of pickKs(index[name], { full: FULL, sample: SAMPLE })) {
            const dir = tmpDir('persisting-skill-')
            const run = await runChild({
              dir,
              mode: 'workload',
              options: WORKLOAD_OPTIONS,
              wrap: straceWrap({ calls: [name], inject: `${name}:signal=KILL:when=${k}` }),
            })
            const where = `${name} k=${k}`
            if (run.signal === 'SIGKILL') killed++
            else if (!run.done) failures.push(`${where}: writer neither finished nor was killed: ${lastWords(run)}`)
            const errors = [...run.rejects.map((r) => `put ${r.code}`), ...run.ops.filter((o) => !o.ok).map((o) => `${o.name} ${o.code} ${o.message}`)]
            if (errors.length) failures.push(`${where}: errors without any injected error: ${errors.join('; ')}`)
            const ledger = new Ledger()
            ledger.add(run)
            const r = check(ledger, await verifyBucket(dir))
            for (const p of r.problems) failures.push(`${where}: ${p}`)
          }
        }
        expect(failures).toEqual([])
        // The workload does reach this kind of call (on the bucket) at least once.
        if (names.some((n) => index[n].bucketKs.length > 0)) expect(killed).toBeGreaterThan(0)
      },
      FULL ? 3_600_000 : 120_000,
    )
  }
})
