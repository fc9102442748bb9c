/**
 * QueueWriter.putNdjson: raw NDJSON routed by the bucket column in the core, on real data
 * (vega-datasets cars: string and number keys, nulls). Each bucket must hold exactly what
 * putBatch of the parsed records would have put there, in order; a bad line refuses the whole
 * call, named, before any bucket stores anything. QueueWriter.putArrow takes the same path.
 */
import { Table, Utf8, tableFromJSON, vectorFromArray } from 'apache-arrow'
import { describe, expect, it } from 'vitest'
import { vegaJson } from '../helpers/datasets.js'
import { bucketFor, readQueue, writeQueue, type Row } from '../../src/index.js'
import { ArrayBackend, dir, expectCode, system, useQueueSystem } from './helpers.js'

const cars = vegaJson<Row>('cars.json')
const ndjson = (rows: Row[]) => rows.map((r) => JSON.stringify(r)).join('\n') + '\n'

useQueueSystem()

describe('QueueWriter.putNdjson', () => {
  for (const [column, backend] of [
    ['Name', 'persisting'],
    ['Cylinders', 'lance'],
    ['Origin', 'memory'],
  ] as const) {
    it(`routes ${cars.length} cars by '${column}' (${backend}) exactly as putBatch would`, async () => {
      const w = await writeQueue(system, `cars-${column}`, { bucketColumn: column, numBuckets: 5, backend, storagePath: dir })
      const result = await w.putNdjson(Buffer.from(ndjson(cars)))
      expect(result.count).toBe(cars.length)
      for (let id = 0; id < 5; id++) {
        const expected = cars.filter((c) => bucketFor(c[column], 5) === id)
        expect(result.buckets[id] ?? 0, `bucket ${id}`).toBe(expected.length)
        const stored = await w.queue.bucket(id).get(0, null)
        // Lance's fixed schema reads absent and null fields as null; the records are otherwise equal.
        expect(stored, `bucket ${id}`).toEqual(expected)
      }
      expect((await w.stats()).totalCount).toBe(cars.length)
    })
  }

  it('refuses a call with a bad line in any bucket, naming it, and stores nothing anywhere', async () => {
    const w = await writeQueue(system, 'cars', { bucketColumn: 'Name', numBuckets: 4, backend: 'persisting', storagePath: dir })
    await w.putNdjson(ndjson(cars.slice(0, 10)))
    const lines = ndjson(cars.slice(10, 20)).split('\n')
    const missing = [...lines.slice(0, 6), JSON.stringify({ Year: 1970 }), ...lines.slice(6)].join('\n')
    const err = await expectCode(w.putNdjson(missing), 'MISSING_BUCKET_COLUMN')
    expect(err.message).toMatch(/^line 7: .*'Name'/)
    const broken = [...lines.slice(0, 3), '{"Name": "x", ', ...lines.slice(3)].join('\n')
    expect((await expectCode(w.putNdjson(broken), 'INVALID_RECORD')).message).toMatch(/^line 4:/)
    await expectCode(w.putNdjson(`${lines[0]}\n{"Name": {"nested": 1}}`), 'INVALID_RECORD')
    expect((await w.stats()).totalCount).toBe(10)
  })

  it('refuses a line over maxRecordBytes before any bucket stores its part', async () => {
    const w = await writeQueue(system, 'big', {
      bucketColumn: 'Name',
      numBuckets: 4,
      backend: 'persisting',
      storagePath: dir,
      backendOptions: { maxRecordBytes: 2000 },
    })
    const big = { ...cars[0], Name: 'big', pad: 'x'.repeat(3000) }
    const err = await expectCode(w.putNdjson(ndjson([...cars.slice(0, 30), big])), 'INVALID_RECORD')
    expect(err.message).toMatch(/^line 31 is 3\d{3} bytes of JSON, over maxRecordBytes 2000 bytes/)
    expect((await w.stats()).totalCount).toBe(0)
  })

  it('works over a user backend without putNdjson (lines parsed and put as a batch)', async () => {
    const w = await writeQueue(system, 'user', { bucketColumn: 'Origin', numBuckets: 3, backend: ArrayBackend })
    const result = await w.putNdjson(ndjson(cars.slice(0, 50)))
    expect(result.count).toBe(50)
    const all = ArrayBackend.instances.flatMap((b) => b.rows)
    expect(all).toHaveLength(50)
    for (const b of ArrayBackend.instances) {
      expect(b.rows).toEqual(cars.slice(0, 50).filter((c) => bucketFor(c.Origin, 3) === b.options.bucketId))
    }
  })
})

describe('QueueWriter.putArrow', () => {
  it('routes an Arrow table of the cars by a string key exactly as putBatch would, all or nothing', async () => {
    const w = await writeQueue(system, 'cars-arrow', { bucketColumn: 'Origin', numBuckets: 3, backend: 'persisting', storagePath: dir })
    const result = await w.putArrow(tableFromJSON(cars as Array<Record<string, unknown>>))
    expect(result.count).toBe(cars.length)
    for (let id = 0; id < 3; id++) {
      const expected = cars.filter((c) => bucketFor(c.Origin, 3) === id)
      expect(result.buckets[id] ?? 0).toBe(expected.length)
      expect(await w.queue.bucket(id).get(0, null), `bucket ${id}`).toEqual(expected)
    }
    const noKey = tableFromJSON([{ Name: 'a' }, { Name: 'b' }])
    expect((await expectCode(w.putArrow(noKey), 'MISSING_BUCKET_COLUMN')).message).toMatch(/^row 1: .*'Origin'/)
    expect((await w.stats()).totalCount).toBe(cars.length)
    // A null key is a value, as in a record: it routes like { Origin: null }.
    // (typed explicitly: tableFromJSON drops a column whose values are all null)
    const nullKey = await w.putArrow(new Table({ Name: vectorFromArray(['n'], new Utf8()), Origin: vectorFromArray([null], new Utf8()) }))
    expect(nullKey.buckets).toEqual({ [bucketFor(null, 3)]: 1 })
  })
})

describe('QueueReader.getArrow', () => {
  for (const backend of ['persisting', 'memory'] as const) {
    it(`${backend}: takes each bucket's next rows as one Table, advancing offsets like get, and waits like get`, async () => {
      const w = await writeQueue(system, `arrow-read-${backend}`, { bucketColumn: 'Origin', numBuckets: 3, backend, storagePath: dir })
      await w.putBatch(cars)
      const r = await readQueue(system, `arrow-read-${backend}`)
      const seen: Row[] = []
      for (;;) {
        const t = await r.getArrow({ limit: 100 })
        if (t.numRows === 0) break
        expect(t.numRows).toBeLessThanOrEqual(100)
        const rows = t.toArray().map((x) => JSON.parse(JSON.stringify(x.toJSON(), (_k, v: unknown) => (typeof v === 'bigint' ? Number(v) : v))) as Row)
        expect(new Set(rows.map((x) => bucketFor(x.Origin, 3))).size, 'one bucket per Table').toBe(1)
        seen.push(...rows)
      }
      expect(seen).toHaveLength(cars.length)
      const key = (c: Row) => JSON.stringify([c.Name, c.Year, c.Horsepower, c.Acceleration])
      expect(seen.map(key).sort()).toEqual(cars.map(key).sort())
      expect(Object.values(r.getOffsets()).reduce((a, b) => a + b, 0)).toBe(cars.length)
      expect((await r.getArrow({ limit: 0 })).numRows).toBe(0)

      const waiting = r.getArrow({ wait: true, timeout: 30 })
      await w.put({ ...cars[0], Name: 'late' })
      const late = await waiting
      expect(late.numRows).toBe(1)
      expect(late.get(0)?.Name).toBe('late')
      expect((await r.getArrow({ wait: true, timeout: 0.05 })).numRows).toBe(0)
    })
  }
})
