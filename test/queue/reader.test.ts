/** Reading: visibility, offsets, rank/worldSize, waiting and streams. */
import { describe, expect, it, vi } from 'vitest'
import * as path from 'node:path'
import { StorageError, bucketFor, readQueue, writeQueue, type Row } from '../../src/index.js'
import { ArrayBackend, collect, rec, system, turns, useQueueSystem } from './helpers.js'

useQueueSystem()

describe('reading', () => {
  it('sees records as soon as put resolves, before any flush', async () => {
    const w = await writeQueue(system, 't', { backend: ArrayBackend })
    const r = await readQueue(system, 't')
    await w.put(rec('a', 1))
    expect(ArrayBackend.instances.every((b) => b.flushes === 0)).toBe(true)
    expect(await r.get()).toEqual([rec('a', 1)])
  })

  it('shares the BucketStorage between a writer and a reader of a topic', async () => {
    const w = await writeQueue(system, 't', { numBuckets: 2 })
    const r = await readQueue(system, 't')
    expect(r.queue.bucket(1)).toBe(w.queue.bucket(1))
    expect(r.queue.numBuckets).toBe(2) // adopted from the writer
  })

  it('advances per-bucket offsets; reset and setOffset rewind', async () => {
    const w = await writeQueue(system, 't', { numBuckets: 1 })
    await w.putBatch(Array.from({ length: 10 }, (_, i) => rec(`k${i}`, i)))
    const r = await readQueue(system, 't')
    const ns = (rows: Row[]) => rows.map((x) => x.n)
    expect(ns(await r.get({ limit: 4 }))).toEqual([0, 1, 2, 3])
    expect(ns(await r.get({ limit: 4 }))).toEqual([4, 5, 6, 7])
    expect(ns(await r.get({ limit: 4 }))).toEqual([8, 9])
    expect(await r.get({ limit: 4 })).toEqual([])
    expect(r.getOffsets()).toEqual({ 0: 10 })
    r.reset()
    expect(ns(await r.get({ limit: 3 }))).toEqual([0, 1, 2])
    r.setOffset(8)
    expect(ns(await r.get())).toEqual([8, 9])
    r.setOffset(5, 0)
    expect(ns(await r.get({ limit: 1 }))).toEqual([5])
    expect(() => r.setOffset(0, 3)).toThrow(StorageError)
    expect(() => r.setOffset(-1)).toThrow(StorageError)
  })

  it('keeps offsets per bucket across several buckets', async () => {
    const w = await writeQueue(system, 't', { numBuckets: 4 })
    const records = Array.from({ length: 40 }, (_, i) => rec(`k${i}`, i))
    await w.putBatch(records)
    const r = await readQueue(system, 't')
    const seen: Row[] = []
    for (let batch = await r.get({ limit: 7 }); batch.length > 0; batch = await r.get({ limit: 7 })) {
      expect(batch.length).toBeLessThanOrEqual(7)
      seen.push(...batch)
    }
    expect(seen).toHaveLength(40)
    expect(new Set(seen.map((x) => x.id)).size).toBe(40)
    // within a bucket, order is insertion order
    for (let b = 0; b < 4; b++) {
      const inBucket = records.filter((x) => bucketFor(x.id, 4) === b).map((x) => x.n)
      expect(seen.filter((x) => bucketFor(x.id, 4) === b).map((x) => x.n)).toEqual(inBucket)
    }
    const offsets = r.getOffsets()
    for (let b = 0; b < 4; b++) expect(offsets[b]).toBe(records.filter((x) => bucketFor(x.id, 4) === b).length)
  })

  it('assigns buckets i % worldSize === rank; ranks never see each other’s records', async () => {
    const w = await writeQueue(system, 't', { numBuckets: 4 })
    const records = Array.from({ length: 200 }, (_, i) => rec(`k${i}`, i))
    await w.putBatch(records)
    const r0 = await readQueue(system, 't', { rank: 0, worldSize: 2 })
    const r1 = await readQueue(system, 't', { rank: 1, worldSize: 2 })
    expect(r0.bucketIds).toEqual([0, 2])
    expect(r1.bucketIds).toEqual([1, 3])
    const got0 = await r0.get({ limit: 1000 })
    const got1 = await r1.get({ limit: 1000 })
    expect(got0.every((x) => [0, 2].includes(bucketFor(x.id, 4)))).toBe(true)
    expect(got1.every((x) => [1, 3].includes(bucketFor(x.id, 4)))).toBe(true)
    expect(got0.length).toBeGreaterThan(0)
    expect(got1.length).toBeGreaterThan(0)
    expect(got0.length + got1.length).toBe(200)
    const ids0 = new Set(got0.map((x) => x.id))
    expect(got1.some((x) => ids0.has(x.id))).toBe(false)

    const single = await readQueue(system, 't', { bucketId: 3 })
    expect(single.bucketIds).toEqual([3])
    expect((await single.get({ limit: 1000 })).every((x) => bucketFor(x.id, 4) === 3)).toBe(true)
    expect((await readQueue(system, 't', { bucketIds: [2, 0] })).bucketIds).toEqual([2, 0])
  })

  it('get({ wait: true, timeout }) returns [] once the timeout (seconds) has passed', async () => {
    await writeQueue(system, 't')
    const r = await readQueue(system, 't')
    const started = performance.now()
    expect(await r.get({ wait: true, timeout: 0.2 })).toEqual([])
    expect(performance.now() - started).toBeGreaterThanOrEqual(180)
  })

  it('get({ wait: true }) returns as soon as a record arrives', async () => {
    const w = await writeQueue(system, 't')
    const r = await readQueue(system, 't')
    const pending = r.get({ wait: true, timeout: 30 })
    let settled = false
    void pending.then(() => (settled = true))
    await turns()
    expect(settled).toBe(false)
    await w.put(rec('late', 7))
    await turns()
    expect(settled).toBe(true)
    expect(await pending).toEqual([rec('late', 7)])
  })

  it('waiting works on a user backend with no blocking support of its own', async () => {
    const w = await writeQueue(system, 't', { backend: ArrayBackend })
    const r = await readQueue(system, 't')
    const pending = r.get({ wait: true })
    await turns()
    await w.put(rec('x', 1))
    expect(await pending).toEqual([rec('x', 1)])
  })

  it('a BucketStorage blocking stream works on a backend that cannot block, and ends on shutdown', async () => {
    const w = await writeQueue(system, 't', { backend: ArrayBackend, numBuckets: 1 })
    await w.put(rec('a', 1))
    const got = collect(w.queue.bucket(0).getStream(0, null, true))
    await turns()
    await w.put(rec('b', 2))
    await turns()
    await system.shutdown()
    expect(await got).toEqual([rec('a', 1), rec('b', 2)])
  })

  describe('getStream', () => {
    it('without block ends when caught up, and respects limit', async () => {
      const w = await writeQueue(system, 't', { numBuckets: 1 })
      await w.putBatch(Array.from({ length: 10 }, (_, i) => rec(`k${i}`, i)))
      const r = await readQueue(system, 't')
      expect((await collect(r.getStream({ limit: 4 }))).map((x) => x.n)).toEqual([0, 1, 2, 3])
      expect((await collect(r.getStream())).map((x) => x.n)).toEqual([4, 5, 6, 7, 8, 9])
      expect(await collect(r.getStream())).toEqual([])
    })

    it('a blocking stream wakes on a put without scheduling any timer or polling', async () => {
      const w = await writeQueue(system, 't')
      const r = await readQueue(system, 't')
      const ourTimers: string[] = []
      const realSetTimeout = globalThis.setTimeout
      const realSetInterval = globalThis.setInterval
      const fromSrc = () => {
        const stack = new Error().stack ?? ''
        return stack.split('\n').slice(2).some((l) => l.includes(`${path.sep}src${path.sep}`) && !l.includes('node_modules'))
      }
      vi.spyOn(globalThis, 'setTimeout').mockImplementation(((...args: Parameters<typeof setTimeout>) => {
        if (fromSrc()) ourTimers.push('setTimeout')
        return realSetTimeout(...args)
      }) as typeof setTimeout)
      vi.spyOn(globalThis, 'setInterval').mockImplementation(((...args: Parameters<typeof setInterval>) => {
        if (fromSrc()) ourTimers.push('setInterval')
        return realSetInterval(...args)
      }) as typeof setInterval)

      // Control: the detector does see our timer when a timeout is asked for.
      expect(await r.get({ wait: true, timeout: 0.01 })).toEqual([])
      expect(ourTimers).toEqual(['setTimeout'])
      ourTimers.length = 0

      const it = r.getStream({ block: true })[Symbol.asyncIterator]()
      const first = it.next()
      let settled = false
      void first.then(() => (settled = true))
      await turns(20)
      expect(settled).toBe(false)
      await w.put(rec('wake', 1))
      await turns(2)
      expect(settled).toBe(true)
      expect(await first).toEqual({ done: false, value: rec('wake', 1) })
      await it.return?.()
      expect(ourTimers).toEqual([])
    })

    it('a blocking stream ends at limit, collecting records put later', async () => {
      const w = await writeQueue(system, 't')
      const r = await readQueue(system, 't')
      const got = collect(r.getStream({ limit: 5, block: true }))
      for (let i = 0; i < 8; i++) {
        await turns(1)
        await w.put(rec(`k${i}`, i))
      }
      expect(await got).toHaveLength(5)
      expect(await r.get({ limit: 100 })).toHaveLength(3)
    })

    it('a blocking stream ends after timeout seconds without new records', async () => {
      const w = await writeQueue(system, 't')
      await w.put(rec('a', 1))
      const r = await readQueue(system, 't')
      const started = performance.now()
      expect(await collect(r.getStream({ block: true, timeout: 0.15 }))).toEqual([rec('a', 1)])
      expect(performance.now() - started).toBeGreaterThanOrEqual(130)
    })

    it('a blocking stream ends when its AbortSignal aborts', async () => {
      const w = await writeQueue(system, 't')
      const r = await readQueue(system, 't')
      const ac = new AbortController()
      const got = collect(r.getStream({ block: true, signal: ac.signal }))
      await w.put(rec('a', 1))
      await turns()
      ac.abort()
      expect(await got).toEqual([rec('a', 1)])
    })

    it('breaking out early does not lose the records it did not yield', async () => {
      const w = await writeQueue(system, 't', { numBuckets: 1 })
      await w.putBatch(Array.from({ length: 10 }, (_, i) => rec(`k${i}`, i)))
      const r = await readQueue(system, 't')
      const seen: unknown[] = []
      for await (const x of r.getStream()) {
        seen.push(x.n)
        if (seen.length === 3) break
      }
      expect(seen).toEqual([0, 1, 2])
      expect((await r.get()).map((x) => x.n)).toEqual([3, 4, 5, 6, 7, 8, 9])
    })
  })
})
