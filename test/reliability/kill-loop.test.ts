/**
 * kill -9 at random moments. A writer child streams sequence-numbered records (several
 * producers, schema evolutions at random points) with frequent flushes, compactions and WAL
 * rotations, and is SIGKILLed; a fresh process then reopens the bucket. Every acknowledged
 * record must be present exactly once, in order, with no gap below the highest one.
 * With walSyncInterval 0.1 an acknowledgement means "written to the WAL file" (the page cache
 * survives a process kill), so the same check applies.
 * Long mode: `npm run test:crash -- --rounds 1000`.
 */
import { describe, expect, it } from 'vitest'
import { distBuilt, killLoop } from './driver.mjs'
import { tmpDir } from '../helpers/tmp.js'

const ROUNDS = Number(process.env.PERSISTING_CRASH_ROUNDS ?? 10)

describe('kill -9 loop', () => {
  it('dist is built (the children run the compiled package)', () => {
    expect(distBuilt()).toBe(true)
  })

  for (const [walSyncInterval, input] of [[0, 'records'], [0.1, 'records'], [0, 'ndjson'], [0, 'arrow'], [0, 'vectors']] as const) {
    const as = { records: '', ndjson: ', batches as NDJSON bytes', arrow: ', batches as Arrow tables', vectors: ', records with Float32Array vectors' }[input]
    it(
      `walSyncInterval ${walSyncInterval}${as}: ${ROUNDS} random SIGKILLs lose and duplicate nothing acknowledged`,
      async () => {
        const seed = Number(process.env.PERSISTING_CRASH_SEED ?? Date.now())
        const s = await killLoop({
          rounds: ROUNDS,
          walSyncInterval,
          ndjson: input === 'ndjson',
          arrow: input === 'arrow',
          vectors: input === 'vectors',
          seed,
          makeDir: () => tmpDir('persisting-kill-'),
        })
        expect(s.problems).toEqual([])
        expect({ lost: s.lost, duplicated: s.duplicated }).toEqual({ lost: 0, duplicated: 0 })
        // The writers got far enough for the kills to land inside real work.
        expect(s.acknowledged).toBeGreaterThan(ROUNDS * 5)
      },
      ROUNDS * 10_000,
    )
  }
})
