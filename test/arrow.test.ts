/**
 * getArrow: the stored columns as an apache-arrow Table through an Arrow IPC stream, on real
 * data (vega-datasets cars: strings, integers, floats with nulls). Rows must equal what the JSON
 * read returns (Int64 columns come back as BigInt), flushed and buffered rows alike.
 */
import { describe, expect, it } from 'vitest'
import { vegaJson } from './helpers/datasets.js'
import { LanceBackend } from '../src/backends/lance.js'
import { PersistingBackend } from '../src/backends/persisting.js'
import type { Row } from '../src/types.js'
import { StorageError } from '../src/errors.js'
import { tmpDir } from './helpers/tmp.js'

const cars = vegaJson<Row>('cars.json')

/** A Table's rows as plain objects, BigInt as number (what JSON carries). */
function plainRows(table: { toArray(): Array<{ toJSON(): Record<string, unknown> }> }): Row[] {
  return table.toArray().map((r) => JSON.parse(JSON.stringify(r.toJSON(), (_k, v) => (typeof v === 'bigint' ? Number(v) : v))) as Row)
}

const BACKENDS = [
  ['persisting', () => new PersistingBackend({ bucketId: 0, storagePath: tmpDir(), enableWal: true, walSyncInterval: 0.1 })],
  ['lance', () => new LanceBackend({ bucketId: 0, storagePath: tmpDir() })],
] as const

describe('getArrow', () => {
  for (const [name, make] of BACKENDS) {
    it(`${name}: a Table of the stored columns, equal to get(), flushed and buffered`, async () => {
      const b = make()
      const empty = await b.getArrow()
      expect(empty.numRows).toBe(0)
      await b.putBatch(cars.slice(0, 300))
      await b.flush()
      await b.putBatch(cars.slice(300))
      const table = await b.getArrow()
      expect(table.numRows).toBe(cars.length)
      expect(table.schema.fields.map((f) => f.name).sort()).toEqual(Object.keys(cars[0]).sort())
      expect(String(table.schema.fields.find((f) => f.name === 'Cylinders')?.type)).toBe('Int64')
      expect(String(table.schema.fields.find((f) => f.name === 'Miles_per_Gallon')?.type)).toBe('Float64')
      expect(typeof table.get(0)?.Cylinders).toBe('bigint')
      const json = await b.get()
      expect(plainRows(table)).toEqual(json)
      const slice = await b.getArrow(290, 20)
      expect(plainRows(slice)).toEqual(json.slice(290, 310))
      expect((await b.getArrow(cars.length + 5, 3)).numRows).toBe(0)
      const err = await b.getArrow(-1).catch((e: unknown) => e)
      expect(err).toBeInstanceOf(StorageError)
      await b.close()
    })
  }
})
