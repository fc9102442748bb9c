/**
 * Crash windows: PERSISTING_FAULT=<point> makes the writer abort at that point of the core
 * (a put, inside a flush between the Lance commit, its fsync, the buffer drain, the WAL
 * truncation and a schema evolution, inside a compaction, after a recovery flush). After a
 * restart every acknowledged record is there exactly once, in order, and the bucket keeps
 * working on top of the recovered state.
 *
 * The points come from the core itself (`faultPoints()`), so a new point without a crash
 * scenario here fails this file.
 */
import { describe, expect, it } from 'vitest'
import { faultPoints } from '../../src/faults.js'
import { check, Ledger, lastWords, runChild, verifyBucket, type ChildRun } from './driver.mjs'
import { tmpDir } from '../helpers/tmp.js'

const sum = (run: ChildRun) => run.acks.reduce((n, [, k]) => n + k, 0)

function expectAborted(run: ChildRun, point: string): void {
  expect(run.signal ?? run.code, lastWords(run)).toBe('SIGABRT')
  expect(run.stderr).toContain(`fault injected at ${point}`)
}

async function expectIntact(ledger: Ledger, dir: string, count: number): Promise<void> {
  const verify = await verifyBucket(dir)
  expect(check(ledger, verify).problems).toEqual([])
  expect(verify.count).toBe(count)
}

/** Ten int rows stored (the next flush widens `n` and adds a field: a schema evolution). */
async function seed(dir: string, ledger: Ledger): Promise<void> {
  const run = await runChild({ dir, mode: 'flush', options: { count: 10 } })
  expect(run.done, lastWords(run)).toBe(true)
  ledger.add(run)
}

/** The crash inside a flush (and, with `compactionThreshold: 1`, the compaction it triggers). */
async function crashInFlush(point: string, options: Record<string, unknown> = {}): Promise<void> {
  const dir = tmpDir()
  const ledger = new Ledger()
  await seed(dir, ledger)
  // Thirty more, then a flush that aborts at the fault point.
  const env = { PERSISTING_FAULT: point }
  const crashed = await runChild({ dir, mode: 'flush', options: { ...options, count: 30, widened: true, field: 'extra' }, env })
  expectAborted(crashed, point)
  expect(sum(crashed)).toBe(30)
  ledger.add(crashed)
  await expectIntact(ledger, dir, 40)
  // A second round on top of the recovered state, with the fault still armed (the schema no
  // longer changes, so after_evolve is not reached again).
  const again = await runChild({ dir, mode: 'flush', options: { ...options, count: 10, widened: true, field: 'extra' }, env })
  expect(again.acks.map(([first]) => first), lastWords(again)).toEqual(Array.from({ length: 10 }, (_, i) => 40 + i))
  ledger.add(again)
  await expectIntact(ledger, dir, 50)
}

/** The crash at the first put of a process: what was acknowledged before stays, nothing else appears. */
async function crashAtPut(point: string): Promise<void> {
  const dir = tmpDir()
  const ledger = new Ledger()
  await seed(dir, ledger)
  const crashed = await runChild({ dir, mode: 'flush', options: { count: 5 }, env: { PERSISTING_FAULT: point } })
  expectAborted(crashed, point)
  expect(crashed.start).toBe(10)
  expect(sum(crashed)).toBe(0)
  ledger.add(crashed)
  await expectIntact(ledger, dir, 10)
  const after = await runChild({ dir, mode: 'flush', options: { count: 5 } })
  expect(after.done, lastWords(after)).toBe(true)
  ledger.add(after)
  await expectIntact(ledger, dir, 15)
}

/**
 * The crash right after a WAL-less open replayed and flushed what a WAL session left (the WAL
 * still exists then): the next open must not replay those records a second time.
 */
async function crashAfterRecoveryFlush(point: string): Promise<void> {
  const dir = tmpDir()
  const ledger = new Ledger()
  await seed(dir, ledger)
  // Thirty acknowledged records left only in the WAL (the flush dies before its commit).
  const left = await runChild({ dir, mode: 'flush', options: { count: 30 }, env: { PERSISTING_FAULT: 'before_lance_commit' } })
  expectAborted(left, 'before_lance_commit')
  expect(sum(left)).toBe(30)
  ledger.add(left)
  const crashed = await runChild({ dir, mode: 'verify', options: { enableWal: false }, env: { PERSISTING_FAULT: point } })
  expectAborted(crashed, point)
  await expectIntact(ledger, dir, 40)
  const withoutWal = await verifyBucket(dir, { enableWal: false })
  expect(check(ledger, withoutWal).problems).toEqual([])
  expect(withoutWal.count).toBe(40)
}

const SCENARIOS: Record<string, (point: string) => Promise<void>> = {
  put: crashAtPut,
  after_lance_data_fsync: crashInFlush,
  before_lance_commit: crashInFlush,
  after_lance_commit: crashInFlush,
  after_lance_fsync: crashInFlush,
  after_buffer_drain: crashInFlush,
  after_wal_truncate: crashInFlush,
  after_evolve: crashInFlush,
  before_compaction_commit: (point) => crashInFlush(point, { compactionThreshold: 1 }),
  after_compaction_commit: (point) => crashInFlush(point, { compactionThreshold: 1 }),
  after_recovery_flush: crashAfterRecoveryFlush,
}

const POINTS = faultPoints()

describe('crash windows (PERSISTING_FAULT at every fault point of the core)', () => {
  it('has a crash scenario for exactly the points the core exports', () => {
    expect(POINTS).toContain('before_lance_commit')
    expect(POINTS.filter((p) => !(p in SCENARIOS))).toEqual([])
    expect(Object.keys(SCENARIOS).filter((p) => !POINTS.includes(p))).toEqual([])
  })

  for (const point of POINTS) {
    it(`abort at ${point}: no loss, no duplicates, writable afterwards`, async () => {
      const scenario = SCENARIOS[point]
      if (scenario === undefined) throw new Error(`no crash scenario for fault point '${point}'`)
      await scenario(point)
    })
  }
})
