/**
 * Sizes from callers are bounded before anything is buffered: a record over `maxRecordBytes`
 * or a call over `maxBatchBytes` is refused whole (INVALID_RECORD naming the limit and the
 * size), and nothing of that call is stored — also across the buckets of one queue call.
 */
import { describe, expect, it } from 'vitest'
import * as pst from '../src/index.js'
import { LanceBackend } from '../src/backends/lance.js'
import { PersistingBackend } from '../src/backends/persisting.js'
import { tmpDir } from './helpers/tmp.js'

const BACKENDS = [
  ['persisting', (o: object) => new PersistingBackend({ bucketId: 0, storagePath: tmpDir(), enableWal: true, walSyncInterval: 0, ...o })],
  ['lance', (o: object) => new LanceBackend({ bucketId: 0, storagePath: tmpDir(), ...o })],
] as const

const rec = (id: number, bytes: number, ch = 'x') => ({ id: `k${id}`, pad: ch.repeat(bytes) })

async function rejection(p: Promise<unknown>): Promise<pst.StorageError> {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  )
  expect(err).toBeInstanceOf(pst.StorageError)
  return err as pst.StorageError
}

describe('size limits', () => {
  for (const [name, make] of BACKENDS) {
    describe(name, () => {
      it('refuses a record over maxRecordBytes, naming the limit and the size, and stores nothing', async () => {
        const b = make({ maxRecordBytes: 1000 })
        await b.put(rec(0, 100))
        const err = await rejection(b.put(rec(1, 2000)))
        expect(err.code).toBe('INVALID_RECORD')
        expect(err.message).toMatch(/maxRecordBytes 1000 bytes/)
        expect(err.message).toMatch(/is 20\d\d bytes/)
        const batchErr = await rejection(b.putBatch([rec(2, 10), rec(3, 10), rec(4, 5000), rec(5, 10)]))
        expect(batchErr.code).toBe('INVALID_RECORD')
        expect(batchErr.message).toContain('record 2 ')
        await b.flush()
        expect(b.totalCount()).toBe(1)
        expect((await b.get(0, 100)).map((r) => r.id)).toEqual(['k0'])
        await b.close()
      })

      it('counts UTF-8 bytes, not characters', async () => {
        const b = make({ maxRecordBytes: 1000 })
        // 600 characters, 1200 bytes.
        const err = await rejection(b.put(rec(0, 600, 'é')))
        expect(err.message).toMatch(/maxRecordBytes/)
        await b.put(rec(1, 450, 'é'))
        expect(b.totalCount()).toBe(1)
        await b.close()
      })

      it('refuses a call over maxBatchBytes whole', async () => {
        const b = make({ maxBatchBytes: 10_000 })
        const ok = Array.from({ length: 5 }, (_, i) => rec(i, 1000))
        await b.putBatch(ok)
        const big = Array.from({ length: 20 }, (_, i) => rec(100 + i, 1000))
        const err = await rejection(b.putBatch(big))
        expect(err.code).toBe('INVALID_RECORD')
        expect(err.message).toMatch(/a call of 20 records is \d+ bytes of JSON, over maxBatchBytes 10000 bytes/)
        await b.flush()
        expect(b.totalCount()).toBe(5)
        await b.close()
      })

      it('rejects limit values that are not positive integers', () => {
        for (const bad of [0, -1, 1.5, '1000', null, Number.POSITIVE_INFINITY]) {
          for (const option of ['maxRecordBytes', 'maxBatchBytes', 'maxBufferBytes']) {
            expect(() => make({ [option]: bad })).toThrow(expect.objectContaining({ code: 'INVALID_OPTION', message: expect.stringContaining(option) }))
          }
        }
      })
    })
  }

  it('refuses by default a record over 16 MiB and keeps one under it', async () => {
    const b = new PersistingBackend({ bucketId: 0, storagePath: tmpDir() })
    const err = await rejection(b.put(rec(0, 16 * 1024 * 1024 + 10)))
    expect(err.message).toContain('maxRecordBytes 16.0 MiB (16777216 bytes)')
    await b.put(rec(1, 2 * 1024 * 1024))
    await b.flush()
    expect(b.totalCount()).toBe(1)
    expect(((await b.get(0, 1))[0].pad as string).length).toBe(2 * 1024 * 1024)
    await b.close()
  })

  it('a queue call with one bucket part over a limit stores nothing in any bucket', async () => {
    const system = await pst.createSystem()
    const storagePath = tmpDir()
    const w = await pst.writeQueue(system, 'sizes', {
      backend: 'persisting', storagePath, numBuckets: 4, backendOptions: { maxRecordBytes: 1000 },
    })
    const records = Array.from({ length: 40 }, (_, i) => rec(i, 50))
    records.push(rec(99, 3000))
    const err = await rejection(w.putBatch(records))
    expect(err.code).toBe('INVALID_RECORD')
    await w.flush()
    const stats = await w.stats()
    expect(stats.totalCount).toBe(0)
    await w.putBatch(records.slice(0, 40))
    expect((await w.stats()).totalCount).toBe(40)
    await system.shutdown()
  })
})
