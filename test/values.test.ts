/**
 * Values keep their value through LanceBackend and PersistingBackend (real Lance datasets in
 * temp dirs): numbers are int64 while integral and within int64 and float64 otherwise, number
 * arrays are exact lists, only a field named `vector` is a float32 vector column, NaN and
 * ±Infinity are rejected, and a field null in every record of the first flush takes a later type.
 */
import { spawn } from 'node:child_process'
import * as path from 'node:path'
import { describe, expect, it } from 'vitest'
import { LanceBackend } from '../src/backends/lance.js'
import { PersistingBackend } from '../src/backends/persisting.js'
import type { Row } from '../src/backends/types.js'
import { tmpDir } from './helpers/tmp.js'

type Backend = LanceBackend | PersistingBackend

const KINDS: Array<[string, (dir: string) => Backend]> = [
  ['lance', (dir) => new LanceBackend({ bucketId: 0, storagePath: dir })],
  ['persisting', (dir) => new PersistingBackend({ bucketId: 0, storagePath: dir, enableWal: true })],
]

for (const [kind, open] of KINDS) {
  /** Rows read back before a flush, after it, and after close and reopen. */
  async function readThrice(rows: Row[]): Promise<Row[][]> {
    const dir = tmpDir()
    const b = open(dir)
    await b.putBatch(rows)
    const buffered = await b.get()
    await b.flush()
    const flushed = await b.get()
    await b.close()
    const again = open(dir)
    const reopened = await again.get()
    await again.close()
    return [buffered, flushed, reopened]
  }

  describe(`${kind}: values keep their value`, () => {
    it('a number array keeps every value exactly (not float32)', async () => {
      const rows = [{ id: 'a', ts: [16777217, 1700000000123] }]
      for (const got of await readThrice(rows)) expect(got).toEqual(rows)
    })

    it('2**53 - 1, fractions and extreme doubles round-trip exactly', async () => {
      const rows = [
        {
          id: 'a',
          max: 2 ** 53 - 1,
          min: -(2 ** 53 - 1),
          big: 2 ** 62,
          f: 0.1,
          huge: 1e300,
          tiny: 5e-324,
          xs: [0.1, 1e300],
          nested: { k: 2 ** 53 - 1, w: 0.1, deep: [[1, 2], [3]] },
        },
      ]
      for (const got of await readThrice(rows)) expect(got).toEqual(rows)
    })

    it('1e19 (integral, beyond int64) is a float from the start in a new bucket', async () => {
      const rows = [{ n: 1e19 }, { n: 2 ** 63 }, { n: -(2 ** 63) }]
      for (const got of await readThrice(rows)) expect(got).toEqual(rows)
    })

    it('after stored integer rows, 1e19 and a fraction widen the column instead of failing', async () => {
      const dir = tmpDir()
      const b = open(dir)
      await b.putBatch([{ id: 'a', n: 1, ts: [1, 2] }])
      await b.flush()
      await b.put({ id: 'b', n: 1e19, ts: [1e19] })
      await b.put({ id: 'c', n: 2.5, ts: [0.5] })
      const expected = [
        { id: 'a', n: 1, ts: [1, 2] },
        { id: 'b', n: 1e19, ts: [1e19] },
        { id: 'c', n: 2.5, ts: [0.5] },
      ]
      expect(await b.get()).toEqual(expected)
      await b.flush()
      expect(await b.get()).toEqual(expected)
      await b.close()
      const again = open(dir)
      expect(await again.get()).toEqual(expected)
      await again.close()
    })

    it('-0 reads back as 0 (JSON has no negative zero)', async () => {
      for (const got of await readThrice([{ z: -0, zs: [-0] }])) {
        expect(Object.is(got[0].z, 0)).toBe(true)
        expect(Object.is((got[0].zs as number[])[0], 0)).toBe(true)
      }
    })

    it('NaN and ±Infinity are rejected with INVALID_RECORD naming the field; nothing of that call is stored', async () => {
      const dir = tmpDir()
      const b = open(dir)
      await b.put({ id: 'ok', score: 1.5, deep: { xs: [1] } })
      const cases: Array<[Row | Row[], string]> = [
        [{ id: 'x', score: NaN }, 'score'],
        [{ id: 'x', score: Infinity }, 'score'],
        [[{ id: 'y', score: 2 }, { id: 'x', score: -Infinity }], 'score'],
        [[{ id: 'y', score: 2 }, { id: 'x', deep: { xs: [1, NaN] } }], 'deep.xs[1]'],
      ]
      for (const [input, field] of cases) {
        const err = await (Array.isArray(input) ? b.putBatch(input) : b.put(input)).catch((e) => e)
        expect(err.code, field).toBe('INVALID_RECORD')
        expect(err.message).toContain(field)
        expect(b.totalCount()).toBe(1)
      }
      await b.flush()
      await b.close()
      const again = open(dir)
      expect(await again.get()).toEqual([{ id: 'ok', score: 1.5, deep: { xs: [1] } }])
      await again.close()
    })

    it('a field null in every record of the first flush takes a later integer, across a flush', async () => {
      const dir = tmpDir()
      const b = open(dir)
      await b.putBatch([{ id: 'a', maybe: null }, { id: 'b', maybe: null }])
      await b.flush()
      await b.put({ id: 'c', maybe: 5 })
      const expected = [
        { id: 'a', maybe: null },
        { id: 'b', maybe: null },
        { id: 'c', maybe: 5 },
      ]
      expect(await b.get()).toEqual(expected)
      await b.flush()
      expect(await b.get()).toEqual(expected)
      // The integer fixed the type now.
      await expect(b.put({ id: 'd', maybe: 'text' })).rejects.toMatchObject({ code: 'SCHEMA_MISMATCH' })
      await b.close()
      const again = open(dir)
      expect(await again.get()).toEqual(expected)
      await again.close()
    })

    it('a field null in every record of the first flush takes a later integer after close and reopen', async () => {
      const dir = tmpDir()
      const b = open(dir)
      await b.putBatch([{ id: 'a', maybe: null }])
      await b.close()
      const reopened = open(dir)
      expect(await reopened.get()).toEqual([{ id: 'a', maybe: null }])
      await reopened.put({ id: 'b', maybe: 7 })
      await reopened.close()
      const again = open(dir)
      expect(await again.get()).toEqual([
        { id: 'a', maybe: null },
        { id: 'b', maybe: 7 },
      ])
      await again.close()
    })

    it('a field named vector is a float32 vector column and searchable; other number arrays are exact lists', async () => {
      const dir = tmpDir()
      const b = open(dir)
      const rows = Array.from({ length: 200 }, (_, i) => ({ id: `p${i}`, vector: [Math.cos(i), Math.sin(i), 16777217], emb: [i, 0.1, 16777217] }))
      await b.putBatch(rows)
      await b.flush()
      const got = await b.get(0, 3)
      // float32 precision is the vector column's contract (2**24 + 1 is not a float32); plain
      // number arrays keep the double.
      for (let i = 0; i < 3; i++) {
        const v = got[i].vector as number[]
        expect(v[0]).toBeCloseTo(Math.cos(i), 6)
        expect(v[2]).toBe(16777216)
      }
      expect(got.map((r) => r.emb)).toEqual(rows.slice(0, 3).map((r) => r.emb))
      const hits = await b.search('vector', [Math.cos(77), Math.sin(77), 16777217], 3)
      expect(hits[0].id).toBe('p77')
      await expect(b.search('emb', [1, 0.1], 1)).rejects.toMatchObject({ code: 'SCHEMA_MISMATCH' })
      await b.close()
    })
  })
}

describe('all-null field typed later: crash between commits', () => {
  const WRITER = path.resolve('test/fixtures/values-writer.mjs')
  function child(dir: string, step: string, fault?: string): Promise<{ code: number | null; signal: string | null; stderr: string }> {
    return new Promise((resolve, reject) => {
      const env = { ...process.env }
      if (fault) env.PERSISTING_FAULT = fault
      else delete env.PERSISTING_FAULT
      const c = spawn(process.execPath, [WRITER, dir, step], { env })
      let stderr = ''
      c.stderr.on('data', (d) => (stderr += d))
      c.on('error', reject)
      c.on('close', (code, signal) => resolve({ code, signal, stderr }))
    })
  }

  for (const point of ['after_evolve', 'before_lance_commit', 'after_lance_commit']) {
    it(`abort at ${point} while the type arrives: nothing lost, the bucket opens and keeps the type`, { timeout: 60_000 }, async () => {
      const dir = tmpDir()
      const first = await child(dir, 'nulls')
      expect(first.code, first.stderr).toBe(0)
      const crashed = await child(dir, 'typed', point)
      expect(crashed.signal, crashed.stderr).toBe('SIGABRT')
      const b = new PersistingBackend({ bucketId: 0, storagePath: dir, enableWal: true })
      expect(await b.get()).toEqual([
        { id: 'a', maybe: null, later: null },
        { id: 'b', maybe: 5, later: null },
      ])
      await b.put({ id: 'c', maybe: 6, later: 'set' })
      await b.close()
      const again = new PersistingBackend({ bucketId: 0, storagePath: dir, enableWal: true })
      expect((await again.get()).map((r) => [r.maybe, r.later])).toEqual([
        [null, null],
        [5, null],
        [6, 'set'],
      ])
      await again.close()
    })
  }
})
