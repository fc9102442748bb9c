/**
 * The behaviour every StorageBackend must have, as one parameterised Vitest suite.
 * Usage: backendContract('lance', (dir) => new LanceBackend({ bucketId: 0, storagePath: dir })).
 *
 * Records keep one fixed shape (same fields, same types, no nulls) so schema-fixed native
 * backends can run it unchanged; integers stay integers and `x` is never integral.
 */
import * as fs from 'node:fs/promises'
import * as os from 'node:os'
import * as path from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { StorageError } from '../src/errors.js'
import type { Row, StorageBackend } from '../src/backends/types.js'

export interface ContractOptions {
  /** Expected `stats().backend`. */
  backendName?: string
  /** Data survives close + a new instance on the same directory (after flush), and flush empties the buffer. */
  persistent?: boolean
}

export type Rec = { id: string; n: number; x: number; s: string; flag: boolean }

export function rec(n: number, id = `k${n}`): Rec {
  return { id, n, x: n + 0.5, s: `text-${n}`, flag: n % 2 === 0 }
}

function ndjsonOf(rows: Rec[], sep = '\n'): string {
  return rows.map((r) => JSON.stringify(r)).join(sep)
}

export function recs(from: number, count: number): Rec[] {
  return Array.from({ length: count }, (_, i) => rec(from + i))
}

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = []
  for await (const x of it) out.push(x)
  return out
}

/** Resolves after `turns` macrotask turns; used to give a blocked reader the chance to (wrongly) finish. */
function turns(n = 5): Promise<void> {
  return n <= 0 ? Promise.resolve() : new Promise((r) => setImmediate(() => r(turns(n - 1))))
}

async function expectInvalid(p: Promise<unknown>): Promise<void> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  )
  expect(err, 'expected a rejection').toBeInstanceOf(StorageError)
  expect((err as StorageError).code).toBe('INVALID_RECORD')
}

export function backendContract(
  name: string,
  make: (dir: string) => StorageBackend | Promise<StorageBackend>,
  opts: ContractOptions = {},
): void {
  describe(`StorageBackend contract: ${name}`, () => {
    let dir: string
    const open: StorageBackend[] = []

    const create = async (where = dir): Promise<StorageBackend> => {
      const b = await make(where)
      open.push(b)
      return b
    }

    beforeEach(async () => {
      dir = await fs.mkdtemp(path.join(os.tmpdir(), `pst-contract-${name}-`))
    })

    afterEach(async () => {
      for (const b of open.splice(0)) await b.close().catch(() => undefined)
      await fs.rm(dir, { recursive: true, force: true })
    })

    describe('put / putBatch / get', () => {
      it('returns records equal to what was put, in insertion order', async () => {
        const b = await create()
        await b.put(rec(0))
        await b.putBatch(recs(1, 4))
        await b.put(rec(5))
        expect(await b.get()).toEqual(recs(0, 6))
        expect(b.totalCount()).toBe(6)
      })

      it('honours offset and limit', async () => {
        const b = await create()
        await b.putBatch(recs(0, 10))
        expect(await b.get(3, 4)).toEqual(recs(3, 4))
        expect(await b.get(8, 5)).toEqual(recs(8, 2))
        expect(await b.get(0, 0)).toEqual([])
        expect(await b.get(10)).toEqual([])
        expect(await b.get(25, 3)).toEqual([])
        expect(await b.get(4, null)).toEqual(recs(4, 6))
        expect(await b.get(0, null)).toEqual(recs(0, 10))
      })

      it('reads an empty backend as empty', async () => {
        const b = await create()
        expect(await b.get()).toEqual([])
        expect(b.totalCount()).toBe(0)
        expect(await collect(b.getStream())).toEqual([])
      })

      it('accepts an empty batch as a no-op', async () => {
        const b = await create()
        await b.putBatch([])
        expect(b.totalCount()).toBe(0)
      })

      it('stores a copy: mutating a record after put does not change what is stored', async () => {
        const b = await create()
        const r = rec(1)
        const batch = recs(2, 2)
        await b.put(r)
        await b.putBatch(batch)
        r.s = 'mutated'
        batch[0].n = 999
        expect(await b.get()).toEqual(recs(1, 3))
      })

      it('hands out records the caller may mutate without affecting later reads', async () => {
        const b = await create()
        await b.put(rec(1))
        const [first] = await b.get()
        ;(first as Rec).s = 'changed'
        expect(await b.get()).toEqual([rec(1)])
      })

      it('keeps integers integral and floats fractional', async () => {
        const b = await create()
        await b.put(rec(7))
        const [r] = (await b.get()) as Rec[]
        expect(Number.isInteger(r.n)).toBe(true)
        expect(r.n).toBe(7)
        expect(r.x).toBe(7.5)
        expect(typeof r.flag).toBe('boolean')
      })

      it('sees records put at once (before any flush)', async () => {
        const b = await create()
        await b.putBatch(recs(0, 3))
        expect(b.totalCount()).toBe(3)
        expect(await b.get(0, 3)).toEqual(recs(0, 3))
      })
    })

    describe('getStream', () => {
      it('streams everything and ends when caught up without block', async () => {
        const b = await create()
        await b.putBatch(recs(0, 7))
        expect(await collect(b.getStream())).toEqual(recs(0, 7))
        expect(await collect(b.getStream(5))).toEqual(recs(5, 2))
        expect(await collect(b.getStream(2, 3))).toEqual(recs(2, 3))
        expect(await collect(b.getStream(0, 0))).toEqual([])
        expect(await collect(b.getStream(50))).toEqual([])
      })

      it('long streams keep order across growing chunks, and an abandoned one leaves nothing behind', async () => {
        const b = await create()
        for (let i = 0; i < 5; i++) await b.putBatch(recs(i * 300, 300))
        await b.flush()
        await b.putBatch(recs(1500, 120)) // some still buffered
        const all = await collect(b.getStream(3))
        expect(all.length).toBe(1617)
        expect(all[0]).toEqual(recs(3, 1)[0])
        expect(all[1616]).toEqual(recs(1619, 1)[0])
        let seen = 0
        for await (const r of b.getStream()) {
          expect(r).toEqual(recs(seen, 1)[0])
          if (++seen === 150) break // a read-ahead may be in flight here
        }
        await b.close()
      })

      it('with block, a stream started before data arrives receives later records', async () => {
        const b = await create()
        const it = b.getStream(0, null, true)[Symbol.asyncIterator]()
        const first = it.next()
        let settled = false
        void first.then(() => (settled = true))
        await turns()
        expect(settled, 'a blocking stream must wait while there is no data').toBe(false)
        await b.put(rec(1))
        expect(await first).toEqual({ done: false, value: rec(1) })
        await b.putBatch(recs(2, 2))
        expect((await it.next()).value).toEqual(rec(2))
        expect((await it.next()).value).toEqual(rec(3))
        await it.return?.()
      })

      it('with block, ends once limit records have been received', async () => {
        const b = await create()
        await b.put(rec(0))
        const got = collect(b.getStream(0, 3, true))
        await turns()
        await b.put(rec(1))
        await b.putBatch(recs(2, 3))
        expect(await got).toEqual(recs(0, 3))
      })

      it('with block, starts at the offset and waits for records beyond it', async () => {
        const b = await create()
        await b.putBatch(recs(0, 2))
        const got = collect(b.getStream(3, 2, true))
        await turns()
        await b.putBatch(recs(2, 4))
        expect(await got).toEqual(recs(3, 2))
      })

      it('a blocked stream ends when the backend is closed', async () => {
        const b = await create()
        await b.put(rec(0))
        const got = collect(b.getStream(0, null, true))
        await turns()
        await b.close()
        expect(await got).toEqual([rec(0)])
      })
    })

    describe('flush, stats, totalCount, close', () => {
      it('flush keeps every record readable', async () => {
        const b = await create()
        await b.putBatch(recs(0, 5))
        await b.flush()
        await b.put(rec(5))
        await b.flush()
        await b.flush()
        expect(await b.get()).toEqual(recs(0, 6))
        expect(b.totalCount()).toBe(6)
      })

      it('stats reports the documented fields and consistent counts', async () => {
        const b = await create()
        const empty = await b.stats()
        expect(empty).toMatchObject({ totalCount: 0, bufferCount: 0, persistedCount: 0 })
        expect(typeof empty.bucketId).toBe('number')
        expect(typeof empty.backend).toBe('string')
        if (opts.backendName) expect(empty.backend).toBe(opts.backendName)

        await b.putBatch(recs(0, 4))
        const s = await b.stats()
        expect(s.totalCount).toBe(4)
        expect(s.bufferCount + s.persistedCount).toBe(4)
        expect(b.totalCount()).toBe(4)

        await b.flush()
        const f = await b.stats()
        expect(f.totalCount).toBe(4)
        expect(f.bufferCount + f.persistedCount).toBe(4)
        if (opts.persistent) expect(f).toMatchObject({ bufferCount: 0, persistedCount: 4 })
      })

      it('rejects writes after close, and close is idempotent', async () => {
        const b = await create()
        await b.put(rec(0))
        await b.close()
        await b.close()
        const err = await b.put(rec(1)).then(
          () => undefined,
          (e: unknown) => e,
        )
        expect(err).toBeInstanceOf(StorageError)
        expect((err as StorageError).code).toBe('CLOSED')
      })

      if (opts.persistent) {
        it('a new instance on the same directory recovers flushed data', async () => {
          const b = await create()
          await b.putBatch(recs(0, 5))
          await b.flush()
          await b.close()
          const again = await create()
          // stats() first: it awaits any asynchronous open/recovery, totalCount() cannot.
          expect((await again.stats()).totalCount).toBe(5)
          expect(again.totalCount()).toBe(5)
          expect(await again.get()).toEqual(recs(0, 5))
          await again.put(rec(5))
          expect(await again.get(4)).toEqual(recs(4, 2))
        })
      }
    })

    describe('concurrency', () => {
      it('10 writers x 100 puts with concurrent readers: every record exactly once, per-writer order kept', async () => {
        const b = await create()
        const writers = 10
        const perWriter = 100
        const total = writers * perWriter
        const makeRec = (w: number, i: number): Rec => ({ id: `w${w}-${i}`, n: w * 1000 + i, x: i + 0.25, s: `w${w}`, flag: i % 2 === 0 })

        // Two blocking readers from the start, plus a polling-free non-blocking reader that
        // keeps re-reading from its own offset while the writers run.
        const streams = [collect(b.getStream(0, total, true)), collect(b.getStream(0, total, true))]
        let writing = true
        const chaser = (async () => {
          const seen: Row[] = []
          while (writing || seen.length < b.totalCount()) {
            const got = await b.get(seen.length, 50)
            seen.push(...got)
            await turns(1)
          }
          return seen
        })()

        await Promise.all(
          Array.from({ length: writers }, async (_, w) => {
            for (let i = 0; i < perWriter; i++) await b.put(makeRec(w, i))
          }),
        )
        writing = false

        expect(b.totalCount()).toBe(total)
        const all = (await b.get()) as Rec[]
        for (const seen of [all, ...((await Promise.all(streams)) as Rec[][]), (await chaser) as Rec[]]) {
          expect(seen).toHaveLength(total)
          expect(new Set(seen.map((r) => r.id)).size).toBe(total)
          for (let w = 0; w < writers; w++) {
            const order = seen.filter((r) => r.s === `w${w}`).map((r) => r.n % 1000)
            expect(order).toEqual(Array.from({ length: perWriter }, (_, i) => i))
          }
        }
        expect(await b.get()).toEqual(all)
      })

      it('concurrent putBatch calls lose nothing and do not interleave inside a batch', async () => {
        const b = await create()
        await Promise.all(Array.from({ length: 8 }, (_, k) => b.putBatch(recs(k * 50, 50))))
        const all = (await b.get()) as Rec[]
        expect(all).toHaveLength(400)
        for (let k = 0; k < 8; k++) {
          const start = all.findIndex((r) => r.n === k * 50)
          expect(all.slice(start, start + 50)).toEqual(recs(k * 50, 50))
        }
      })
    })

    describe('putNdjson (when the backend has it)', () => {
      const ndjson = ndjsonOf

      it('stores every line as a record, from a string, a Uint8Array or a Buffer', async () => {
        const b = await create()
        if (!b.putNdjson) return
        await b.put(rec(0))
        await b.putNdjson(ndjson(recs(1, 3)) + '\n')
        await b.putNdjson(new TextEncoder().encode('\n' + ndjson(recs(4, 2), '\r\n\n')))
        await b.putNdjson(Buffer.from(ndjson(recs(6, 2))))
        await b.putNdjson('')
        expect(await b.get()).toEqual(recs(0, 8))
        expect(b.totalCount()).toBe(8)
      })

      it('refuses a call holding one bad line, naming it, and stores nothing of it', async () => {
        const b = await create()
        if (!b.putNdjson) return
        await b.putNdjson(ndjson(recs(0, 2)))
        const cases: Array<[string, number]> = [
          [`${JSON.stringify(rec(2))}\n{"id": "k3", "n": }`, 2],
          [`${JSON.stringify(rec(2))}\n\n[1, 2]`, 3],
          [`${JSON.stringify(rec(2))}\n{"id": "k3",\n"n": 3}`, 2],
          [`${JSON.stringify(rec(2))}, ${JSON.stringify(rec(3))}`, 1],
          ['"text"', 1],
        ]
        for (const [text, line] of cases) {
          const err = await b.putNdjson(text).then(
            () => undefined,
            (e: unknown) => e,
          )
          expect(err, text).toBeInstanceOf(StorageError)
          expect((err as StorageError).code, text).toBe('INVALID_RECORD')
          expect((err as StorageError).message, text).toMatch(new RegExp(`^line ${line}:`))
        }
        await expectInvalid(b.putNdjson(42 as unknown as string))
        expect(await b.get()).toEqual(recs(0, 2))
        await b.putNdjson(JSON.stringify(rec(2)))
        expect(await b.get()).toEqual(recs(0, 3))
      })
    })

    describe('putNdjson of JSON that is only almost right', () => {
      // Each line has the shape of a record; the fault is inside a value or between fields. A
      // byte scan that lets one through buffers a row the flush cannot decode: the call was
      // acknowledged, then the flush fails and the bucket with it.
      const good = JSON.stringify(rec(2))
      const almost = [
        '{"id": "k3", "n": nope}',
        '{"id": "k3", "n": nulll}',
        '{"id": "k3", "n": 1-2}',
        '{"id": "k3", "n": -}',
        '{"id": "k3", "n": .5}',
        '{"id": "k3", "n": +5}',
        '{"id": "k3", "n": 5.}',
        '{"id": "k3", "n": 01}',
        '{"id": "k3", "x": 1e400}',
        '{"id": "k3", "x": -1e999}',
        '{"id": "\\x41", "n": 3}',
        '{"id": "k3" "n": 3}',
        '{"id": "k3",, "n": 3}',
        '{"id": "k3", "n": 3,}',
        '{, "id": "k3"}',
        // Raw control characters inside strings (JSON needs them escaped), at the top level and nested.
        '{"id": "k\t3", "n": 3}',
        '{"id": "k3", "o": {"s": ["a\u0001b"]}}',
      ]
      for (const line of almost) {
        it(`refuses ${line} naming its line, and the bucket flushes and keeps every good record`, async () => {
          const b = await create()
          if (!b.putNdjson) return
          await b.putNdjson(ndjsonOf(recs(0, 2)))
          await b.flush()
          const err = await b.putNdjson(`${good}\n${line}\n`).then(
            () => undefined,
            (e: unknown) => e,
          )
          expect(err, line).toBeInstanceOf(StorageError)
          expect((err as StorageError).code, line).toBe('INVALID_RECORD')
          expect((err as StorageError).message, line).toMatch(/^line 2:/)
          await b.flush()
          expect(await b.get()).toEqual(recs(0, 2))
          await b.putNdjson(good)
          await b.flush()
          expect(await b.get()).toEqual(recs(0, 3))
        })
      }

      it('refuses bytes that are not UTF-8, naming the line', async () => {
        const b = await create()
        if (!b.putNdjson) return
        await b.putNdjson(ndjsonOf(recs(0, 2)))
        const bytes = Buffer.concat([Buffer.from(`${good}\n{"id": "`), Buffer.from([0xff, 0xfe]), Buffer.from('", "n": 3}\n')])
        const err = await b.putNdjson(bytes).then(
          () => undefined,
          (e: unknown) => e,
        )
        expect((err as StorageError).code).toBe('INVALID_RECORD')
        expect((err as StorageError).message).toMatch(/^line 2:/)
        await b.flush()
        expect(await b.get()).toEqual(recs(0, 2))
      })
    })

    describe('bad input', () => {
      const circular = (): Row => {
        const r: Row = { ...rec(9) }
        r.self = r
        return r
      }
      const bad: Array<[string, () => unknown]> = [
        ['null', () => null],
        ['a string', () => 'text'],
        ['a number', () => 42],
        ['an array', () => [rec(1)]],
        ['a Date', () => new Date()],
        ['a Map', () => new Map([['id', 'k1']])],
        ['a class instance', () => new (class Thing { id = 'k1' })()],
        ['a BigInt field', () => ({ ...rec(1), big: 10n })],
        ['a nested BigInt', () => ({ ...rec(1), nested: { deep: [1, 2n] } })],
        ['a function field', () => ({ ...rec(1), fn: () => 1 })],
        ['a symbol field', () => ({ ...rec(1), sym: Symbol('s') })],
        ['a circular reference', circular],
      ]

      for (const [label, value] of bad) {
        it(`put rejects ${label} with INVALID_RECORD and keeps earlier records`, async () => {
          const b = await create()
          await b.putBatch(recs(0, 3))
          await expectInvalid(b.put(value() as Row))
          expect(b.totalCount()).toBe(3)
          expect(await b.get()).toEqual(recs(0, 3))
        })
      }

      it('putBatch rejects a batch holding one bad record and stores none of it', async () => {
        const b = await create()
        await b.put(rec(0))
        await expectInvalid(b.putBatch([rec(1), { ...rec(2), big: 1n } as Row, rec(3)]))
        await expectInvalid(b.putBatch([rec(1), circular()]))
        await expectInvalid(b.putBatch([rec(1), null as unknown as Row]))
        await expectInvalid(b.putBatch('not an array' as unknown as Row[]))
        expect(b.totalCount()).toBe(1)
        expect(await b.get()).toEqual([rec(0)])
        // and the backend still works afterwards
        await b.put(rec(1))
        expect(await b.get()).toEqual(recs(0, 2))
      })
    })
  })
}
