import { describe, expect, it } from 'vitest'
import { GroupCommit } from '../src/backends/group-commit.js'

/** A fake WAL whose fsyncs the test completes by hand, in any order. */
class FakeWal {
  readonly calls: { target: number; resolve: (durable: number) => void; reject: (err: unknown) => void }[] = []
  readonly settle = (target: number): Promise<number> =>
    new Promise<number>((resolve, reject) => this.calls.push({ target, resolve, reject }))
  get targets(): number[] {
    return this.calls.map((c) => c.target)
  }
}

/** Lets queued microtasks and promise reactions run. */
const tick = (): Promise<void> => new Promise((r) => setImmediate(r))

/** Tracks a waiter's outcome without awaiting it. */
function track(p: Promise<void>, log?: number[], lsn?: number) {
  const state: { status: 'pending' | 'resolved' | 'rejected'; error?: unknown } = { status: 'pending' }
  p.then(
    () => {
      state.status = 'resolved'
      if (log && lsn !== undefined) log.push(lsn)
    },
    (error: unknown) => {
      state.status = 'rejected'
      state.error = error
    },
  )
  return state
}

describe('GroupCommit', () => {
  it('starts an fsync at once when the disk is idle and resolves the waiter with its result', async () => {
    const wal = new FakeWal()
    const gc = new GroupCommit(wal.settle)
    const w = track(gc.wait(1))
    expect(wal.targets).toEqual([1])
    await tick()
    expect(w.status).toBe('pending')
    wal.calls[0].resolve(1)
    await tick()
    expect(w.status).toBe('resolved')
    expect(gc.durable).toBe(1)
    expect(gc.pending).toBe(0)
  })

  it('a position already durable resolves without another settle call', async () => {
    const wal = new FakeWal()
    const gc = new GroupCommit(wal.settle)
    const first = gc.wait(5)
    wal.calls[0].resolve(5)
    await first
    const w = track(gc.wait(3))
    const same = track(gc.wait(5))
    await tick()
    expect(w.status).toBe('resolved')
    expect(same.status).toBe('resolved')
    expect(wal.targets).toEqual([5])
  })

  it('coalesces the waiters of one tick into one settle for the highest position', async () => {
    const wal = new FakeWal()
    const gc = new GroupCommit(wal.settle)
    const log: number[] = []
    const first = track(gc.wait(1), log, 1)
    // 99 more puts while the first fsync runs: one call covers all of them.
    const rest = Array.from({ length: 99 }, (_, i) => track(gc.wait(i + 2), log, i + 2))
    await tick()
    expect(wal.targets).toEqual([1, 100])
    expect(gc.pending).toBe(100)
    wal.calls[0].resolve(1)
    await tick()
    expect(first.status).toBe('resolved')
    expect(rest.every((w) => w.status === 'pending')).toBe(true)
    wal.calls[1].resolve(100)
    await tick()
    expect(rest.every((w) => w.status === 'resolved')).toBe(true)
    // Settled in WAL order.
    expect(log).toEqual(Array.from({ length: 100 }, (_, i) => i + 1))
    expect(wal.targets).toHaveLength(2)
  })

  it('resolves only the waiters the durable position covers, in order, and keeps the rest waiting', async () => {
    const wal = new FakeWal()
    const gc = new GroupCommit(wal.settle)
    const log: number[] = []
    const ws = [10, 20, 30, 40].map((lsn) => track(gc.wait(lsn), log, lsn))
    await tick()
    expect(wal.targets).toEqual([10, 40])
    // The first fsync reached further than asked (other frames were already written).
    wal.calls[0].resolve(25)
    await tick()
    expect(ws.map((w) => w.status)).toEqual(['resolved', 'resolved', 'pending', 'pending'])
    expect(log).toEqual([10, 20])
    wal.calls[1].resolve(40)
    await tick()
    expect(log).toEqual([10, 20, 30, 40])
  })

  it('keeps at most two settle calls in flight and asks for the newest position when one ends', async () => {
    const wal = new FakeWal()
    const gc = new GroupCommit(wal.settle)
    const a = track(gc.wait(1))
    await tick()
    track(gc.wait(2))
    await tick()
    const c = track(gc.wait(3))
    await tick()
    const d = track(gc.wait(4))
    await tick()
    expect(wal.targets).toEqual([1, 2])
    wal.calls[0].resolve(1)
    await tick()
    expect(a.status).toBe('resolved')
    expect(wal.targets).toEqual([1, 2, 4])
    wal.calls[1].resolve(2)
    wal.calls[2].resolve(4)
    await tick()
    expect([c.status, d.status]).toEqual(['resolved', 'resolved'])
    expect(wal.targets).toEqual([1, 2, 4])
  })

  it('a failed settle rejects every put still waiting with its (decorated) error, not the acknowledged ones', async () => {
    const wal = new FakeWal()
    const decorated: unknown[] = []
    const gc = new GroupCommit(wal.settle, (err) => {
      decorated.push(err)
      return Object.assign(new Error(`wrapped: ${(err as Error).message}`), { cause: err })
    })
    const acked = track(gc.wait(1))
    const covered = track(gc.wait(2))
    const behind = track(gc.wait(3))
    await tick()
    expect(wal.targets).toEqual([1, 3])
    wal.calls[0].resolve(1)
    await tick()
    expect(acked.status).toBe('resolved')
    // Queued behind the failing fsync (its frames follow the failed ones in the poisoned WAL).
    const queued = track(gc.wait(4))
    await tick()
    expect(wal.targets).toEqual([1, 3, 4])
    const boom = new Error('fsync failed')
    wal.calls[1].reject(boom)
    await tick()
    expect(acked.status).toBe('resolved')
    expect(covered.status).toBe('rejected')
    expect(behind.status).toBe('rejected')
    expect(queued.status).toBe('rejected')
    expect((covered.error as Error).message).toBe('wrapped: fsync failed')
    expect(covered.error).toBe(behind.error) // one error object for the whole cohort
    expect(decorated).toEqual([boom])
    expect(gc.pending).toBe(0)
    expect(gc.durable).toBe(1)
    // The in-flight settle for 4 ending later (either way) changes nothing for the rejected puts.
    wal.calls[2].reject(new Error('poisoned'))
    await tick()
    expect(queued.error).toBe(covered.error)
  })

  it('after a failure, the next put issues a fresh settle instead of inheriting the old rejection', async () => {
    const wal = new FakeWal()
    const gc = new GroupCommit(wal.settle)
    const failed = track(gc.wait(1))
    wal.calls[0].reject(new Error('fsync failed'))
    await tick()
    expect(failed.status).toBe('rejected')
    const retry = track(gc.wait(2))
    await tick()
    expect(wal.targets).toEqual([1, 2])
    wal.calls[1].resolve(2)
    await tick()
    expect(retry.status).toBe('resolved')
  })

  it('a settle that throws synchronously rejects the waiters instead of throwing from wait', async () => {
    const gc = new GroupCommit(() => {
      throw new Error('no store')
    })
    let result: Promise<void> | undefined
    expect(() => (result = gc.wait(1))).not.toThrow()
    await expect(result).rejects.toThrow('no store')
    expect(gc.pending).toBe(0)
  })

  it('handles many cohorts: every waiter resolves exactly once, in order', async () => {
    const wal = new FakeWal()
    const gc = new GroupCommit(wal.settle)
    const log: number[] = []
    let lsn = 0
    const all: Promise<void>[] = []
    for (let round = 0; round < 50; round++) {
      for (let i = 0; i < 40; i++) {
        const mine = ++lsn
        const p = gc.wait(mine)
        p.then(() => log.push(mine))
        all.push(p)
      }
      await tick()
      // Complete whatever is in flight, oldest first.
      for (const c of wal.calls.splice(0)) c.resolve(c.target)
      await tick()
    }
    while (wal.calls.length > 0) {
      for (const c of wal.calls.splice(0)) c.resolve(c.target)
      await tick()
    }
    await Promise.all(all)
    expect(log).toEqual(Array.from({ length: 2000 }, (_, i) => i + 1))
    expect(gc.durable).toBe(2000)
  })
})
