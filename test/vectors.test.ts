/**
 * Float32Array / Float64Array record values are vectors: they cross into the core as raw bytes
 * (never JSON), are stored as FixedSizeList<Float32|Float64, dim> with every value exact, and search
 * works on them (the WAL replay of vector payloads: tests/integration/arrow_put.rs). Real data: vega-datasets cars, with a vector per car made
 * from its numeric columns.
 */
import { describe, expect, it } from 'vitest'
import { vegaJson } from './helpers/datasets.js'
import { LanceBackend } from '../src/backends/lance.js'
import { MemoryBackend } from '../src/backends/memory.js'
import { PersistingBackend } from '../src/backends/persisting.js'
import { StorageError } from '../src/errors.js'
import { readQueue, writeQueue } from '../src/index.js'
import type { Row } from '../src/types.js'
import { tmpDir } from './helpers/tmp.js'
import { dir as queueDir, system, useQueueSystem } from './queue/helpers.js'

const cars = vegaJson<Row>('cars.json')
const features = (c: Row) =>
  Float32Array.from([c.Miles_per_Gallon, c.Cylinders, c.Displacement, c.Horsepower, c.Weight_in_lbs, c.Acceleration].map((x) => (typeof x === 'number' ? x / 100 : 0)))

const BACKENDS = [
  ['persisting', (dir: string) => new PersistingBackend({ bucketId: 0, storagePath: dir, enableWal: true, walSyncInterval: 0 })],
  ['lance', (dir: string) => new LanceBackend({ bucketId: 0, storagePath: dir })],
] as const

describe('typed-array vectors', () => {
  for (const [name, make] of BACKENDS) {
    it(`${name}: Float32Array values are stored as FixedSizeList<Float32> with every value exact`, async () => {
      const dir = tmpDir()
      const b = make(dir)
      const rows = cars.map((c) => ({ name: c.Name, origin: c.Origin, features: features(c) }))
      await b.putBatch(rows.slice(0, 200))
      await b.flush()
      await b.putBatch(rows.slice(200))
      await b.put({ name: 'single', origin: 'none', features: new Float32Array(6).fill(0.5) })
      const table = await b.getArrow()
      expect(String(table.schema.fields.find((f) => f.name === 'features')?.type)).toBe('FixedSizeList[6]<Float32>')
      const got = (table.getChild('features')!.toArray() as unknown as Array<{ toArray(): Float32Array }>).map((v) => Array.from(v.toArray()))
      expect(got).toEqual([...rows.map((r) => Array.from(r.features)), new Array(6).fill(0.5)])
      const hits = await b.search('features', rows[42].features, 1)
      expect(hits[0].name).toBe(rows[42].name)
      await b.close()
    })
  }

  it('persisting: Float64Array vectors stay Float64, and a record without one reads null', async () => {
    const b = new PersistingBackend({ bucketId: 0, storagePath: tmpDir(), enableWal: true, walSyncInterval: 0 })
    const v = Float64Array.from([Math.PI, Math.E, 1 / 3])
    await b.putBatch([{ id: 1, v }, { id: 2 }])
    const col = (await b.getArrow()).getChild('v')!
    expect(String(col.type)).toBe('FixedSizeList[3]<Float64>')
    expect(Array.from((col.get(0) as { toArray(): Float64Array }).toArray())).toEqual(Array.from(v))
    expect(col.get(1)).toBeNull()
    await b.close()
  })

  it('refuses mixed kinds, mixed lengths and non-finite values, naming the record, storing nothing', async () => {
    const b = new PersistingBackend({ bucketId: 0, storagePath: tmpDir() })
    const bad = async (records: Row[], message: RegExp) => {
      const err = await b.putBatch(records).catch((e: unknown) => e)
      expect(err).toBeInstanceOf(StorageError)
      expect((err as StorageError).code).toBe('INVALID_RECORD')
      expect((err as StorageError).message).toMatch(message)
    }
    await bad([{ v: new Float32Array(2) }, { v: [1, 2] }], /record 1 has an array at v/)
    await bad([{ v: new Float32Array(2) }, { v: new Float32Array(3) }], /record 1 has a vector of 3 values at v, where other records have 2/)
    await bad([{ v: new Float32Array(2) }, { v: new Float64Array(2) }], /record 1 has a Float64Array at v/)
    await bad([{ v: Float32Array.from([1, NaN]) }], /record 0 has a non-finite value at v\[1\]/)
    expect(b.totalCount()).toBe(0)
    await b.close()
  })

  for (const [name, make] of BACKENDS) {
    it(`${name}: reads hand typed-array vectors back as typed arrays, buffered, flushed and reopened`, async () => {
      const dir = tmpDir()
      const rows = cars.slice(0, 50).map((c, i) => ({ i, name: c.Name, features: features(c), vector: [i, i + 0.5] }))
      const expected = rows.map((r) => ({ ...r, features: r.features }))
      const check = async (b: LanceBackend | PersistingBackend) => {
        const got = await b.get()
        expect(got.map((r) => r.features)).toEqual(expected.map((r) => r.features))
        expect(got[7].features).toBeInstanceOf(Float32Array)
        // A plain `vector` of numbers stays a plain array.
        expect(Array.isArray(got[7].vector)).toBe(true)
        expect(got[7].vector).toEqual([7, 7.5])
        const streamed: Row[] = []
        for await (const r of b.getStream(40)) streamed.push(r)
        expect(streamed.map((r) => r.features)).toEqual(expected.slice(40).map((r) => r.features))
      }
      let b = make(dir)
      await b.putBatch(rows)
      await check(b)
      await b.flush()
      await check(b)
      await b.close()
      b = make(dir)
      await check(b)
      const hit = await b.search('features', rows[3].features, 1)
      expect(hit[0].i).toBe(3)
      expect(hit[0].features).toEqual(rows[3].features)
      await b.close()
    })
  }

  it('memory: typed arrays round-trip as copies of the same kind', async () => {
    const b = new MemoryBackend({ bucketId: 0, storagePath: '' })
    const v = Float32Array.from([0.1, 0.2, 0.3])
    await b.put({ id: 1, v })
    await b.putBatch([{ id: 2, v: Float32Array.from([1, 2, 3]) }, { id: 3, v: null }])
    v[0] = 9 // a later mutation of the caller's array changes nothing stored
    const got = await b.get()
    expect(got[0].v).toEqual(Float32Array.from([0.1, 0.2, 0.3]))
    expect(got[2].v).toBeNull()
    const err = await b.putBatch([{ v: Float32Array.from([1, Infinity]) }]).catch((e: unknown) => e)
    expect((err as StorageError).code).toBe('INVALID_RECORD')
    expect(b.totalCount()).toBe(3)
  })
})

describe('number arrays in vector fields', () => {
  for (const [name, make] of BACKENDS) {
    it(`${name}: batch after batch into one bucket, a field widening from integers to fractions, records without one`, async () => {
      const dir = tmpDir()
      const rows = cars.map((c, i) => ({ i, name: c.Name, x: i, vector: i % 7 === 3 ? null : Array.from(features(c)) }))
      // The third batch's x has fractions: the bucket's Int64 x becomes Float64 there.
      for (const r of rows.slice(200)) r.x = r.i + 0.5
      // Float32 is the column's precision: every value reads back as the same float32.
      const f32 = (r: Row) => ({ ...r, vector: r.vector === null ? null : (r.vector as number[]).map(Math.fround) })
      const expected = rows.map(f32)
      let b = make(dir)
      await b.putBatch(rows.slice(0, 100))
      await b.putBatch(rows.slice(100, 200))
      await b.putBatch(rows.slice(200))
      expect((await b.get()).map(f32)).toEqual(expected)
      await b.flush()
      await b.close()
      b = make(dir)
      const got = await b.get()
      expect(got.map(f32)).toEqual(expected)
      expect(Array.isArray(got[0].vector)).toBe(true)
      const table = await b.getArrow()
      expect(String(table.schema.fields.find((f) => f.name === 'vector')?.type)).toBe('FixedSizeList[6]<Float32>')
      expect(String(table.schema.fields.find((f) => f.name === 'x')?.type)).toBe('Float64')
      await b.close()
    })
  }

  it('refuses a non-finite number or a non-number in a vector, naming the record and place, storing nothing', async () => {
    const b = new LanceBackend({ bucketId: 0, storagePath: tmpDir() })
    await b.putBatch([{ id: 'a', vector: [1, 2] }])
    for (const [records, message] of [
      [[{ id: 'b', vector: [1, 2] }, { id: 'c', vector: [1, NaN] }], /record 1 has NaN at vector\[1\]/],
      [[{ id: 'b', vector: [1, 2] }, { id: 'c', vector: [Infinity, 2] }], /record 1 has Infinity at vector\[0\]/],
      [[{ id: 'b', vector: [1, 2] }, { id: 'c', vector: [1, 2n] }], /record 1 has a bigint at vector\[1\]/],
    ] as const) {
      const err = await b.putBatch(records as unknown as Row[]).catch((e: unknown) => e)
      expect((err as StorageError).code).toBe('INVALID_RECORD')
      expect((err as StorageError).message).toMatch(message)
    }
    expect(b.totalCount()).toBe(1)
    await b.close()
  })
})

describe('vectorColumns', () => {
  it('stores declared number arrays as float32 vectors, searchable, and refuses other lengths', async () => {
    const dir = tmpDir()
    const b = new LanceBackend({ bucketId: 0, storagePath: dir, vectorColumns: { features: 6 } })
    const rows = cars.map((c) => ({ name: c.Name, features: Array.from(features(c)) }))
    await b.putBatch(rows)
    await b.flush()
    const table = await b.getArrow()
    expect(String(table.schema.fields.find((f) => f.name === 'features')?.type)).toBe('FixedSizeList[6]<Float32>')
    const hits = await b.search('features', rows[100].features, 1)
    expect(hits[0].name).toBe(rows[100].name)
    const err = await b.put({ name: 'short', features: [1, 2] }).catch((e: unknown) => e)
    expect((err as StorageError).code).toBe('INVALID_RECORD')
    expect((err as StorageError).message).toMatch(/holds 2 numbers at features, which vectorColumns declares a vector of 6 numbers/)
    const notVector = await b.search('name', [1], 1).catch((e: unknown) => e)
    expect((notVector as StorageError).message).toMatch(/vectorColumns/)
    expect(b.totalCount()).toBe(rows.length)
    await b.close()
  })

  it('refuses a bad declaration as INVALID_OPTION', () => {
    for (const bad of [{ v: 0 }, { v: 1.5 }, { v: '3' }, [3]]) {
      expect(() => new PersistingBackend({ bucketId: 0, storagePath: tmpDir(), vectorColumns: bad as never })).toThrow(
        expect.objectContaining({ code: 'INVALID_OPTION' }),
      )
    }
  })
})

describe('typed-array vectors through a queue', () => {
  useQueueSystem()
  it('are routed, stored and read back as typed arrays', async () => {
    const w = await writeQueue(system, 'vec', { bucketColumn: 'Origin', numBuckets: 3, backend: 'persisting', storagePath: queueDir })
    const rows = cars.map((c) => ({ Origin: c.Origin, name: c.Name, features: features(c) }))
    await w.putBatch(rows)
    await w.flush()
    const r = await readQueue(system, 'vec')
    const got = await r.get({ limit: rows.length })
    expect(got.length).toBe(rows.length)
    const key = (name: unknown, f: Float32Array) => `${String(name)} ${Array.from(f).join(',')}`
    for (const g of got) expect(g.features).toBeInstanceOf(Float32Array)
    expect(got.map((g) => key(g.name, g.features as Float32Array)).sort()).toEqual(rows.map((x) => key(x.name, x.features)).sort())
  })
})
