import { describe, expect, it } from 'vitest'
import { MemoryBackend } from '../src/backends/memory.js'
import { StorageError } from '../src/errors.js'
import { backendContract, rec } from './backend-contract.js'

backendContract('memory', (dir) => new MemoryBackend({ bucketId: 3, storagePath: dir, batchSize: 10 }), {
  backendName: 'memory',
})

describe('MemoryBackend specifics', () => {
  it('stats match the documented shape exactly', async () => {
    const b = new MemoryBackend({ bucketId: 2, storagePath: '/tmp/nowhere/bucket_2' })
    await b.putBatch([rec(1), rec(2)])
    expect(await b.stats()).toEqual({
      bucketId: 2,
      totalCount: 2,
      bufferCount: 2,
      persistedCount: 0,
      storagePath: '/tmp/nowhere/bucket_2',
      backend: 'memory',
    })
  })

  it('rejects unknown constructor options and a bad bucketId', () => {
    expect(() => new MemoryBackend({ bucketId: 0, storagePath: 'x', somethingElse: true })).toThrow(/somethingElse/)
    expect(() => new MemoryBackend({ bucketId: 0, storagePath: 'x', topic: 't' })).not.toThrow()
    for (const bucketId of [-1, 1.5, Number.NaN, '0']) {
      expect(() => new MemoryBackend({ bucketId: bucketId as number, storagePath: 'x' })).toThrow(StorageError)
    }
  })

  it('rejects a negative offset or limit', async () => {
    const b = new MemoryBackend({ bucketId: 0, storagePath: 'x' })
    await expect(b.get(-1)).rejects.toMatchObject({ code: 'INVALID_OPTION' })
    await expect(b.get(0, -2)).rejects.toMatchObject({ code: 'INVALID_OPTION' })
  })
})
