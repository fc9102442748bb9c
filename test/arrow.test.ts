/**
 * Arrow out and in, on real data (vega-datasets cars: strings, integers, floats with nulls).
 * getArrow: the stored columns as an apache-arrow Table through an Arrow IPC stream; rows must
 * equal what the JSON read returns (Int64 columns come back as BigInt), flushed and buffered
 * rows alike. putArrow: Tables, RecordBatches and IPC bytes stored as the record path stores
 * the same rows; what a record cannot hold is refused naming the column, storing nothing.
 */
import { Binary, Field, FixedSizeList, Float32, Float64, Int32, List, Struct, Table, Utf8, makeData, makeVector, tableFromArrays, tableFromJSON, tableToIPC, vectorFromArray } from 'apache-arrow'
import { describe, expect, it } from 'vitest'
import { vegaJson } from './helpers/datasets.js'
import { LanceBackend } from '../src/backends/lance.js'
import { MemoryBackend } from '../src/backends/memory.js'
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

const vectorTable = (vectors: Float32Array[]): Table => {
  const dim = vectors[0].length
  const type = new FixedSizeList(dim, new Field('item', new Float32(), true))
  const flat = new Float32Array(vectors.length * dim)
  vectors.forEach((v, i) => flat.set(v, i * dim))
  const child = makeData({ type: new Float32(), length: flat.length, data: flat })
  const data = makeData({ type, length: vectors.length, nullCount: 0, child })
  return new Table({ id: vectorFromArray(vectors.map((_, i) => i)), vector: makeVector(data) })
}

async function expectInvalid(p: Promise<unknown>, message: RegExp): Promise<void> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  )
  expect(err).toBeInstanceOf(StorageError)
  expect((err as StorageError).code).toBe('INVALID_RECORD')
  expect((err as StorageError).message).toMatch(message)
}

describe('putArrow', () => {
  const WRITERS = [
    ...BACKENDS,
    ['memory', () => new MemoryBackend({ bucketId: 0, storagePath: tmpDir() })],
  ] as const

  for (const [name, make] of WRITERS) {
    it(`${name}: a Table, a RecordBatch and IPC bytes (stream, file) store the rows the record path stores`, async () => {
      const viaArrow = make()
      const viaRecords = make()
      const t = tableFromJSON(cars as Array<Record<string, unknown>>)
      await viaArrow.putArrow(t.slice(0, 100))
      await viaArrow.putArrow(t.slice(100, 200).batches[0])
      await viaArrow.putArrow(tableToIPC(t.slice(200, 300), 'stream'))
      await viaArrow.putArrow(tableToIPC(t.slice(300), 'file'))
      await viaArrow.putArrow(tableToIPC(t.slice(0, 0)))
      await viaRecords.putBatch(cars)
      expect(viaArrow.totalCount()).toBe(cars.length)
      expect(await viaArrow.get()).toEqual(await viaRecords.get())
      await viaArrow.close()
      await viaRecords.close()
    })

    it(`${name}: refuses what a record cannot hold, naming the column, and stores nothing of that call`, async () => {
      const b = make()
      await b.putArrow(tableFromArrays({ x: new Float64Array([1, 2]) }))
      await expectInvalid(b.putArrow(tableFromArrays({ x: new Float64Array([3, NaN]) })), /'x' has NaN at row 1/)
      await expectInvalid(b.putArrow(tableFromArrays({ x: new Float64Array([Infinity]) })), /'x' has Infinity at row 0/)
      const bytes = new Table({ b: vectorFromArray([new Uint8Array([1, 2])], new Binary()) })
      await expectInvalid(b.putArrow(bytes), /'b' has type Binary/)
      await expectInvalid(b.putArrow(new TextEncoder().encode('{"x": 1}')), /not an Arrow IPC/)
      await expectInvalid(b.putArrow({ numRows: 1 } as unknown as Table), /putArrow takes an apache-arrow Table/)
      expect(b.totalCount()).toBe(2)
      await b.close()
    })
  }

  for (const [name, make] of BACKENDS) {
    it(`${name}: Float32 vectors stay a FixedSizeList<Float32> with every value exact, and search finds them`, async () => {
      const b = make()
      const vectors = Array.from({ length: 64 }, (_, i) => Float32Array.from({ length: 8 }, (_, j) => Math.fround(Math.sin(i * 8 + j) * 1e3) / 7))
      await b.putArrow(vectorTable(vectors.slice(0, 40)))
      await b.flush()
      await b.putArrow(vectorTable(vectors.slice(40)))
      const table = await b.getArrow()
      expect(String(table.schema.fields.find((f) => f.name === 'vector')?.type)).toBe('FixedSizeList[8]<Float32>')
      const back = table.getChild('vector')!.toArray() as unknown as Array<{ toArray(): Float32Array }>
      expect(back.map((v) => Array.from(v.toArray()))).toEqual(vectors.map((v) => Array.from(v)))
      const hits = await b.search('vector', vectors[7], 1)
      // JSON reads print a float32 in its shortest form: the same float32 once rounded to one.
      expect((hits[0].vector as number[]).map(Math.fround)).toEqual(Array.from(vectors[7]))
      await b.close()
    })

    it(`${name}: with nested structs and lists, the same rows as putBatch`, async () => {
      const rows = cars.slice(0, 50).map((c, i) => ({ name: c.Name, spec: { hp: c.Horsepower, origin: c.Origin }, tags: [String(c.Year), c.Origin], i }))
      const a = make()
      const r = make()
      // Typed explicitly: tableFromJSON cannot infer a struct whose field starts null.
      const spec = new Struct([new Field('hp', new Float64(), true), new Field('origin', new Utf8(), true)])
      const t = new Table({
        name: vectorFromArray(rows.map((x) => x.name), new Utf8()),
        spec: vectorFromArray(rows.map((x) => x.spec), spec),
        tags: vectorFromArray(rows.map((x) => x.tags), new List(new Field('item', new Utf8(), true))),
        i: vectorFromArray(rows.map((x) => x.i), new Int32()),
      })
      expect(rows.some((x) => x.spec.hp === null)).toBe(true)
      await a.putArrow(t)
      await r.putBatch(rows)
      expect(await a.get()).toEqual(await r.get())
      await a.close()
      await r.close()
    })
  }
})
