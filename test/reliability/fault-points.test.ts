/**
 * Crash windows inside a flush: PERSISTING_FAULT=<point> makes the writer abort at that point
 * (between the Lance commit, its fsync, the buffer drain, the WAL truncation, a schema
 * evolution). After a restart every acknowledged record is there exactly once, in order, and
 * the bucket keeps working on top of the recovered state.
 */
import { describe, expect, it } from 'vitest'
import { check, Ledger, lastWords, runChild, verifyBucket } from './driver.mjs'
import { tmpDir } from '../helpers/tmp.js'

// The points the flush path passes through (the binding also exports them as faultPoints()).
const POINTS = ['before_lance_commit', 'after_lance_commit', 'after_lance_fsync', 'after_buffer_drain', 'after_wal_truncate', 'after_evolve']

describe('crash windows inside flush (PERSISTING_FAULT)', () => {
  for (const point of POINTS) {
    it(`abort at ${point}: no loss, no duplicates, writable afterwards`, async () => {
      const dir = tmpDir()
      const ledger = new Ledger()
      // 1. Ten int rows stored: the next flush widens `n` and adds a field (a schema evolution).
      const seedRun = await runChild({ dir, mode: 'flush', options: { count: 10 } })
      expect(seedRun.done, lastWords(seedRun)).toBe(true)
      ledger.add(seedRun)
      // 2. Thirty more, then a flush that aborts at the fault point.
      const crashed = await runChild({
        dir,
        mode: 'flush',
        options: { count: 30, widened: true, field: 'extra' },
        env: { PERSISTING_FAULT: point },
      })
      expect(crashed.signal ?? crashed.code, lastWords(crashed)).toBe('SIGABRT')
      expect(crashed.stderr).toContain(`fault injected at ${point}`)
      expect(crashed.acks.reduce((n, [, k]) => n + k, 0)).toBe(30)
      ledger.add(crashed)
      let verify = await verifyBucket(dir)
      expect(check(ledger, verify).problems).toEqual([])
      expect(verify.count).toBe(40)
      // 3. A second round on top of the recovered state, with the fault still armed (the
      //    schema no longer changes, so after_evolve is not reached again).
      const again = await runChild({ dir, mode: 'flush', options: { count: 10, widened: true, field: 'extra' }, env: { PERSISTING_FAULT: point } })
      expect(again.acks.map(([first]) => first), lastWords(again)).toEqual(Array.from({ length: 10 }, (_, i) => 40 + i))
      ledger.add(again)
      verify = await verifyBucket(dir)
      expect(check(ledger, verify).problems).toEqual([])
      expect(verify.count).toBe(50)
    })
  }
})
