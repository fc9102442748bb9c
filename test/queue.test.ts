import { createHash } from 'node:crypto'
import * as fs from 'node:fs/promises'
import * as os from 'node:os'
import * as path from 'node:path'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import * as pst from '../src/index.js'
import { md5Digest } from '../src/md5.js'
import {
  MemoryBackend,
  StorageError,
  bucketFor,
  createSystem,
  getBackendClass,
  listBackends,
  readQueue,
  registerBackend,
  writeQueue,
  type BackendOptions,
  type BackendStats,
  type Row,
  type StorageBackend,
  type System,
} from '../src/index.js'

const rec = (id: string | number, n = 0): Row => ({ id, n, x: n + 0.5, s: `v${n}` })

/** Resolves after `n` event-loop turns (setImmediate, which our code never uses). */
function turns(n = 5): Promise<void> {
  return n <= 0 ? Promise.resolve() : new Promise((r) => setImmediate(() => r(turns(n - 1))))
}

async function rejection(p: Promise<unknown> | (() => unknown)): Promise<unknown> {
  try {
    await (typeof p === 'function' ? p() : p)
  } catch (e) {
    return e
  }
  throw new Error('expected a rejection')
}

async function expectCode(p: Promise<unknown> | (() => unknown), code: string): Promise<StorageError> {
  const err = await rejection(p)
  expect(err).toBeInstanceOf(StorageError)
  expect((err as StorageError).code).toBe(code)
  return err as StorageError
}

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = []
  for await (const x of it) out.push(x)
  return out
}

/** A from-scratch backend with no blocking support of its own, counting lifecycle calls. */
class ArrayBackend implements StorageBackend {
  static instances: ArrayBackend[] = []
  readonly rows: Row[] = []
  flushes = 0
  closed = false
  constructor(readonly options: BackendOptions) {
    ArrayBackend.instances.push(this)
  }
  async put(record: Row): Promise<void> {
    if (this.closed) throw new StorageError('closed', 'CLOSED')
    this.rows.push({ ...record })
  }
  async putBatch(records: Row[]): Promise<void> {
    for (const r of records) await this.put(r)
  }
  async get(offset = 0, limit: number | null = null): Promise<Row[]> {
    return this.rows.slice(offset, limit === null ? undefined : offset + limit)
  }
  async *getStream(offset = 0, limit: number | null = null): AsyncGenerator<Row> {
    yield* await this.get(offset, limit)
  }
  async flush(): Promise<void> {
    this.flushes++
  }
  async stats(): Promise<BackendStats> {
    const n = this.rows.length
    return { bucketId: this.options.bucketId, totalCount: n, bufferCount: n, persistedCount: 0, backend: 'array' }
  }
  totalCount(): number {
    return this.rows.length
  }
  async close(): Promise<void> {
    this.closed = true
  }
}

let system: System
let dir: string

beforeEach(async () => {
  system = await createSystem()
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'pst-queue-'))
  ArrayBackend.instances = []
})

afterEach(async () => {
  vi.restoreAllMocks()
  await system.shutdown()
  await fs.rm(dir, { recursive: true, force: true })
})

describe('bucketFor', () => {
  it('matches Python int(md5(str(v)).hexdigest(), 16) % n', () => {
    expect(bucketFor('test_value', 8)).toBe(7)
    expect(bucketFor('consistent_key', 32)).toBe(20)
    expect(bucketFor(1, 4)).toBe(3)
    expect(bucketFor('', 7)).toBe(1)
    expect(bucketFor('héllo', 1000003)).toBe(424193)
    expect(bucketFor('日本語', 13)).toBe(11)
    expect(bucketFor(12345678901234, 1000)).toBe(929)
    expect(bucketFor(-5, 97)).toBe(51)
  })

  it('stays exact for large bucket counts on both sides of the fast path', () => {
    expect(bucketFor('consistent_key', 2 ** 44)).toBe(9487608384980)
    expect(bucketFor('consistent_key', 2 ** 44 + 1)).toBe(10744488946401)
    expect(bucketFor('abc', 2 ** 40 + 5)).toBe(66900081262)
    expect(bucketFor('abc', 2 ** 50 + 3)).toBe(19652664990679)
    expect(bucketFor('abc', Number.MAX_SAFE_INTEGER)).toBe(7601352230504058)
  })

  it('its fast MD5 path gives the real MD5 digest (lengths around the one-block limit, non-ASCII)', () => {
    const samples: string[] = []
    for (let len = 0; len <= 70; len++) samples.push(Array.from({ length: len }, (_, i) => String.fromCharCode(33 + ((i * 7 + len) % 94))).join(''))
    samples.push('é', 'key-é', '日本語', '\u{1F600}', 'a'.repeat(55), 'a'.repeat(56), '\x7f', '\0')
    for (const text of samples) {
      expect(Buffer.from(md5Digest(text)).toString('hex'), JSON.stringify(text)).toBe(createHash('md5').update(text, 'utf8').digest('hex'))
    }
  })

  it('hashes null like Pulsing hashes None (as the empty string)', () => {
    expect(bucketFor(null, 7)).toBe(bucketFor('', 7))
  })

  it('is deterministic and stays in range', () => {
    for (let i = 0; i < 200; i++) {
      const b = bucketFor(`key-${i}`, 5)
      expect(b).toBe(bucketFor(`key-${i}`, 5))
      expect(b).toBeGreaterThanOrEqual(0)
      expect(b).toBeLessThan(5)
    }
    expect(bucketFor('anything', 1)).toBe(0)
  })

  it('rejects a bucket count that is not a positive integer', async () => {
    for (const n of [0, -1, 1.5, Number.NaN]) await expectCode(() => bucketFor('k', n), 'INVALID_OPTION')
  })
})

describe('writing', () => {
  it('routes by the bucket column: same key, same bucket; result names the bucket', async () => {
    const w = await writeQueue(system, 't', { numBuckets: 8 })
    const a = await w.put(rec('test_value', 1))
    const b = await w.put(rec('test_value', 2))
    expect(a).toEqual({ bucketId: 7, status: 'ok' })
    expect(b).toEqual({ bucketId: 7, status: 'ok' })
    const stats = await w.stats()
    expect(stats.buckets[7].totalCount).toBe(2)
    expect(stats.totalCount).toBe(2)
  })

  it('honours a custom bucket column', async () => {
    const w = await writeQueue(system, 't', { bucketColumn: 'user', numBuckets: 32 })
    expect(await w.put({ user: 'consistent_key', id: 'ignored' })).toEqual({ bucketId: 20, status: 'ok' })
  })

  it('put of an array returns one result per record, in order', async () => {
    const w = await writeQueue(system, 't', { numBuckets: 4 })
    const records = Array.from({ length: 20 }, (_, i) => rec(`k${i}`, i))
    const results = await w.put(records)
    expect(results).toEqual(records.map((r) => ({ bucketId: bucketFor(r.id, 4), status: 'ok' })))
    expect((await w.stats()).totalCount).toBe(20)
  })

  it('putBatch makes one backend putBatch call per bucket', async () => {
    const w = await writeQueue(system, 't', { numBuckets: 4, backend: ArrayBackend })
    const spy = vi.spyOn(ArrayBackend.prototype, 'putBatch')
    const records = Array.from({ length: 400 }, (_, i) => rec(`k${i}`, i))
    const result = await w.putBatch(records)
    expect(result.count).toBe(400)
    expect(spy).toHaveBeenCalledTimes(4)
    for (const inst of ArrayBackend.instances) {
      const id = inst.options.bucketId
      expect(inst.rows.map((r) => r.id)).toEqual(records.filter((r) => bucketFor(r.id, 4) === id).map((r) => r.id))
      expect(result.buckets[id]).toBe(inst.rows.length)
    }
  })

  it('spreads 1000 keys over 32 buckets, each bucket getting some', async () => {
    const w = await writeQueue(system, 't', { numBuckets: 32 })
    await w.putBatch(Array.from({ length: 1000 }, (_, i) => rec(`user-${i}`, i)))
    const stats = await w.stats()
    expect(Object.keys(stats.buckets)).toHaveLength(32)
    let sum = 0
    for (let id = 0; id < 32; id++) {
      expect(stats.buckets[id].totalCount).toBeGreaterThan(0)
      sum += stats.buckets[id].totalCount
    }
    expect(sum).toBe(1000)
    expect(stats).toMatchObject({ topic: 't', bucketColumn: 'id', numBuckets: 32, totalCount: 1000, bufferCount: 1000, persistedCount: 0 })
  })

  it('10 writers x 100 concurrent puts are all counted and all readable once', async () => {
    const writers = await Promise.all(Array.from({ length: 10 }, () => writeQueue(system, 't')))
    await Promise.all(
      writers.map(async (w, k) => {
        for (let i = 0; i < 100; i++) await w.put(rec(`w${k}-${i}`, k * 100 + i))
      }),
    )
    expect((await writers[0].stats()).totalCount).toBe(1000)
    const reader = await readQueue(system, 't')
    const got = await reader.get({ limit: 5000 })
    expect(got).toHaveLength(1000)
    expect(new Set(got.map((r) => r.id)).size).toBe(1000)
  })
})

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

describe('backend registry', () => {
  it('has memory, lance and persisting out of the box', () => {
    expect(listBackends()).toEqual(expect.arrayContaining(['memory', 'lance', 'persisting']))
    expect(getBackendClass('memory')).toBe(MemoryBackend)
    expect(getBackendClass('lance')).toBe(pst.LanceBackend)
    expect(getBackendClass('persisting')).toBe(pst.PersistingBackend)
  })

  it('registerBackend rejects non-classes with TypeError', () => {
    for (const bad of [42, 'MemoryBackend', null, undefined, {}, () => ({}), async function f() {}]) {
      expect(() => registerBackend('bad', bad as never)).toThrow(TypeError)
    }
    expect(() => registerBackend('', MemoryBackend)).toThrow(TypeError)
    expect(listBackends()).not.toContain('bad')
  })

  it('a registered class is used by name and by class, with the documented constructor options', async () => {
    registerBackend('array', ArrayBackend)
    expect(listBackends()).toContain('array')
    expect(getBackendClass('array')).toBe(ArrayBackend)

    const byName = await writeQueue(system, 'named', {
      backend: 'array',
      numBuckets: 2,
      batchSize: 7,
      storagePath: `${dir}/named`,
      backendOptions: { flavour: 'x' },
    })
    await byName.putBatch(Array.from({ length: 20 }, (_, i) => rec(`k${i}`, i)))
    expect(ArrayBackend.instances.map((b) => b.options).sort((a, b) => a.bucketId - b.bucketId)).toEqual([
      { bucketId: 0, storagePath: `${dir}/named/bucket_0`, batchSize: 7, flavour: 'x' },
      { bucketId: 1, storagePath: `${dir}/named/bucket_1`, batchSize: 7, flavour: 'x' },
    ])
    expect(ArrayBackend.instances.reduce((n, b) => n + b.rows.length, 0)).toBe(20)

    ArrayBackend.instances = []
    const byClass = await writeQueue(system, 'classy', { backend: ArrayBackend, numBuckets: 1 })
    await byClass.put(rec('a'))
    expect(ArrayBackend.instances).toHaveLength(1)
    expect(ArrayBackend.instances[0].options).toEqual({ bucketId: 0, storagePath: './queue_storage/classy/bucket_0', batchSize: 100 })
    expect((await byClass.stats()).buckets[0].backend).toBe('array')
  })

  it('built-ins can be registered again under another name', async () => {
    registerBackend('mem2', MemoryBackend)
    const w = await writeQueue(system, 't', { backend: 'mem2' })
    await w.put(rec('a'))
    expect((await w.stats()).buckets[bucketFor('a', 4)].backend).toBe('memory')
  })
})

describe('system', () => {
  it('system.queue.write / read open the same topic', async () => {
    const w = await system.queue.write('t', { numBuckets: 2 })
    const r = await system.queue.read('t')
    await w.put(rec('a', 1))
    expect(await r.get()).toEqual([rec('a', 1)])
  })

  it('pst.queue is the queue namespace', () => {
    expect(pst.queue.writeQueue).toBe(writeQueue)
    expect(pst.queue.readQueue).toBe(readQueue)
    expect(pst.queue.bucketFor).toBe(bucketFor)
    expect(pst.queue.registerBackend).toBe(registerBackend)
  })

  it('shutdown flushes and closes every bucket, ends blocked readers and refuses further use', async () => {
    const w = await writeQueue(system, 't', { backend: ArrayBackend, numBuckets: 2 })
    await w.putBatch(Array.from({ length: 10 }, (_, i) => rec(`k${i}`, i)))
    const r = await readQueue(system, 't')
    await r.get({ limit: 100 })
    const blocked = r.get({ wait: true })
    const stream = collect(r.getStream({ block: true }))
    await turns()
    await system.shutdown()
    expect(ArrayBackend.instances).toHaveLength(2)
    for (const b of ArrayBackend.instances) {
      expect(b.flushes).toBe(1)
      expect(b.closed).toBe(true)
    }
    expect(await blocked).toEqual([])
    expect(await stream).toEqual([])
    expect(system.closed).toBe(true)
    await expectCode(w.put(rec('late')), 'CLOSED')
    await expectCode(writeQueue(system, 'other'), 'CLOSED')
    await system.shutdown() // idempotent
    expect(ArrayBackend.instances.every((b) => b.flushes === 1)).toBe(true)
  })
})
