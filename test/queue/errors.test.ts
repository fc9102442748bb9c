/** Rejections of bad records, options, topics and systems. */
import { describe, expect, it } from 'vitest'
import { getBackendClass, readQueue, writeQueue, type Row, type System } from '../../src/index.js'
import { ArrayBackend, expectCode, rec, system, useQueueSystem } from './helpers.js'

useQueueSystem()

describe('errors', () => {
  it('a record without the bucket column is rejected, naming the column', async () => {
    const w = await writeQueue(system, 't', { bucketColumn: 'user_id' })
    const err = await expectCode(w.put({ id: 'x' }), 'MISSING_BUCKET_COLUMN')
    expect(err.message).toContain('user_id')
    await expectCode(w.putBatch([{ user_id: 'a' }, { id: 'b' }]), 'MISSING_BUCKET_COLUMN')
    expect((await w.stats()).totalCount).toBe(0) // the good record of the rejected batch was not written
  })

  it('non-object and non-JSON records are rejected with INVALID_RECORD', async () => {
    const w = await writeQueue(system, 't')
    for (const bad of [null, 'x', 5, [rec('a'), 5], new Date(), { id: 'a', big: 1n }]) {
      await expectCode(w.put(bad as Row), 'INVALID_RECORD')
    }
    await expectCode(w.putBatch([rec('ok'), { id: 'b', f: () => 1 }]), 'INVALID_RECORD')
    await expectCode(w.put({ id: { nested: true } }), 'INVALID_RECORD')
    expect((await w.stats()).totalCount).toBe(0)
  })

  it('numBuckets must be a positive integer', async () => {
    for (const numBuckets of [0, 1.5, -1, '4', Number.NaN]) {
      await expectCode(writeQueue(system, 'bad', { numBuckets: numBuckets as number }), 'INVALID_OPTION')
      await expectCode(readQueue(system, 'bad', { numBuckets: numBuckets as number }), 'INVALID_OPTION')
    }
  })

  it('unknown option names are rejected', async () => {
    await expectCode(writeQueue(system, 't', { numBucket: 8 } as never), 'INVALID_OPTION')
    await expectCode(writeQueue(system, 't', { rank: 0 } as never), 'INVALID_OPTION')
    await expectCode(readQueue(system, 't', { worldsize: 2 } as never), 'INVALID_OPTION')
    await expectCode(writeQueue(system, 't', { backendOptions: { storagePath: '/x' } }), 'INVALID_OPTION')
  })

  it('rank/worldSize and bucket ids are checked', async () => {
    await writeQueue(system, 't', { numBuckets: 4 })
    await expectCode(readQueue(system, 't', { rank: 2, worldSize: 2 }), 'INVALID_OPTION')
    await expectCode(readQueue(system, 't', { rank: -1, worldSize: 2 }), 'INVALID_OPTION')
    await expectCode(readQueue(system, 't', { rank: 0, worldSize: 0 }), 'INVALID_OPTION')
    await expectCode(readQueue(system, 't', { rank: 0 }), 'INVALID_OPTION')
    await expectCode(readQueue(system, 't', { bucketId: 4 }), 'INVALID_OPTION')
    await expectCode(readQueue(system, 't', { bucketIds: [1, 1] }), 'INVALID_OPTION')
    await expectCode(readQueue(system, 't', { bucketId: 1, rank: 0, worldSize: 2 }), 'INVALID_OPTION')
  })

  it('a reader with another numBuckets than the topic’s writer is rejected', async () => {
    await writeQueue(system, 't', { numBuckets: 8 })
    const err = await expectCode(readQueue(system, 't', { numBuckets: 4 }), 'INVALID_OPTION')
    expect(err.message).toMatch(/numBuckets 4.*8/)
    await expectCode(writeQueue(system, 't', { numBuckets: 4 }), 'INVALID_OPTION')
    await expectCode(readQueue(system, 't', { backend: ArrayBackend }), 'INVALID_OPTION')
    expect((await readQueue(system, 't', { numBuckets: 8 })).bucketIds).toHaveLength(8)
  })

  it('an unknown backend is rejected with the available names', async () => {
    const err = await expectCode(writeQueue(system, 't', { backend: 'nope' }), 'UNKNOWN_BACKEND')
    for (const name of ['memory', 'lance', 'persisting']) expect(err.message).toContain(name)
    await expectCode(() => getBackendClass('nope'), 'UNKNOWN_BACKEND')
  })

  it('bad topics and systems are rejected', async () => {
    await expectCode(writeQueue(system, ''), 'INVALID_OPTION')
    await expect(writeQueue({} as System, 't')).rejects.toThrow(TypeError)
  })
})
