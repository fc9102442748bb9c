/**
 * QueueWriter.putNdjson: raw NDJSON routed by the bucket column in the core, on real data
 * (vega-datasets cars: string and number keys, nulls). Each bucket must hold exactly what
 * putBatch of the parsed records would have put there, in order; a bad line refuses the whole
 * call, named, before any bucket stores anything.
 */
import { describe, expect, it } from 'vitest'
import { vegaJson } from '../helpers/datasets.js'
import { bucketFor, writeQueue, type Row } from '../../src/index.js'
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
