/**
 * Writers that own a share of a topic's buckets (`rank`/`worldSize`), on local disk: what they
 * refuse, that a refused call stores nothing, and that a second owner fails when it claims.
 * The same on an object store, across systems and hosts: test/object-store.test.ts.
 */
import { describe, expect, it } from 'vitest'
import { createSystem, readQueue, writeQueue, type QueueWriter, type Row } from '../../src/index.js'
import { expectCode, rec, system, dir, useQueueSystem } from './helpers.js'

useQueueSystem()

const ids = (w: QueueWriter, rank: number, worldSize: number, n: number): string[] => {
  const out: string[] = []
  for (let i = 0; out.length < n; i++) if (w.getBucketId(`k${i}`) % worldSize === rank) out.push(`k${i}`)
  return out
}

describe('writeQueue rank/worldSize', () => {
  it('stores records of owned buckets and refuses a call with any other one (NOT_OWNER, nothing stored)', async () => {
    const w = await writeQueue(system, 'own', { numBuckets: 4, rank: 1, worldSize: 2 })
    const mine = ids(w, 1, 2, 20)
    const theirs = ids(w, 0, 2, 1)
    await w.putBatch(mine.map((id, i) => rec(id, i)))
    await expectCode(w.putBatch([rec(mine[0], 99), rec(theirs[0], 99)]), 'NOT_OWNER')
    await expectCode(w.put(rec(theirs[0])), 'NOT_OWNER')
    await expectCode(w.putNdjson(`${JSON.stringify(rec(mine[1]))}\n${JSON.stringify(rec(theirs[0]))}`), 'NOT_OWNER')
    const s = await w.stats()
    expect(s.totalCount).toBe(20)
    expect(Object.keys(s.buckets).map(Number).sort()).toEqual([1, 3])
    const r = await readQueue(system, 'own')
    const got = (await r.get({ limit: 100 })) as Row[]
    expect(got.map((x) => x.id).sort()).toEqual([...mine].sort())
  })

  it('checks its options like readQueue does', async () => {
    await expectCode(writeQueue(system, 'opts', { rank: 0 }), 'INVALID_OPTION')
    await expectCode(writeQueue(system, 'opts', { rank: 2, worldSize: 2 }), 'INVALID_OPTION')
    await expectCode(writeQueue(system, 'opts', { walPath: 's3://b/wal' }), 'INVALID_OPTION')
    await expectCode(writeQueue(system, 'opts', { backendOptions: { walPath: '/tmp/x' } }), 'INVALID_OPTION')
    await expectCode(writeQueue(system, 'opts', { storageOptions: { aws_region: 1 as unknown as string } }), 'INVALID_OPTION')
  })

  it('a second owner of the same rank fails at writeQueue (LOCKED), and its system still shuts down cleanly', async () => {
    const opts = { numBuckets: 4, storagePath: `${dir}/owned`, backend: 'persisting', backendOptions: { enableWal: true }, rank: 0, worldSize: 2 }
    const w = await writeQueue(system, 'owned', opts)
    await w.putBatch(ids(w, 0, 2, 5).map((id, i) => rec(id, i)))
    const other = await createSystem()
    await expectCode(writeQueue(other, 'owned', opts), 'WAL_LOCKED')
    await other.shutdown()
    // The other rank is free.
    const third = await createSystem()
    const w1 = await writeQueue(third, 'owned', { ...opts, rank: 1 })
    await w1.putBatch(ids(w1, 1, 2, 5).map((id, i) => rec(id, i)))
    await third.shutdown()
  })
})
