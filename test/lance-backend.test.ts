import * as fs from 'node:fs'
import * as path from 'node:path'
import { describe, expect, it } from 'vitest'
import { LanceBackend } from '../src/backends/lance.js'
import { StorageError } from '../src/errors.js'
import { backendContract, recs } from './backend-contract.js'
import { listFiles, tmpDir } from './helpers/tmp.js'

backendContract('lance', (dir) => new LanceBackend({ bucketId: 1, storagePath: dir, batchSize: 10 }), {
  backendName: 'lance',
  persistent: true,
})

// The contract again with tiny thresholds, so automatic flushes and compaction run under load.
backendContract(
  'lance (flushThreshold 7, compactionThreshold 3)',
  (dir) => new LanceBackend({ bucketId: 1, storagePath: dir, batchSize: 3, flushThreshold: 7, compactionThreshold: 3 }),
  { backendName: 'lance', persistent: true },
)

function dataFiles(dir: string): Map<string, Buffer> {
  const d = path.join(dir, 'data.lance', 'data')
  const out = new Map<string, Buffer>()
  if (!fs.existsSync(d)) return out
  for (const f of fs.readdirSync(d)) out.set(f, fs.readFileSync(path.join(d, f)))
  return out
}

describe('LanceBackend on a real dataset', () => {
  it('survives close and reopen with the same values and order', async () => {
    const dir = tmpDir()
    const a = new LanceBackend({ bucketId: 0, storagePath: dir })
    const rows = recs(0, 250)
    await a.putBatch(rows.slice(0, 100))
    await a.flush()
    await a.putBatch(rows.slice(100))
    await a.close()
    const b = new LanceBackend({ bucketId: 0, storagePath: dir })
    expect(b.totalCount()).toBe(250)
    expect(await b.get()).toEqual(rows)
    expect(await b.stats()).toMatchObject({ totalCount: 250, persistedCount: 250, bufferCount: 0, backend: 'lance' })
    await b.close()
  })

  it('each flush adds exactly one version and leaves existing data files untouched', async () => {
    const dir = tmpDir()
    const b = new LanceBackend({ bucketId: 0, storagePath: dir, compactionThreshold: 0 })
    await b.putBatch(recs(0, 50))
    await b.flush()
    const v1 = await b.versions()
    const files1 = dataFiles(dir)
    await b.putBatch(recs(50, 50))
    await b.flush()
    const v2 = await b.versions()
    const files2 = dataFiles(dir)
    expect(v2.length).toBe(v1.length + 1)
    expect(v2.at(-1)!.timestamp).toBeInstanceOf(Date)
    expect(files2.size).toBe(files1.size + 1)
    for (const [name, bytes] of files1) expect(files2.get(name)?.equals(bytes)).toBe(true)
    await b.flush() // nothing buffered: no new version
    expect((await b.versions()).length).toBe(v2.length)
    await b.close()
  })

  it('checkout(version) is a read-only view of exactly what was stored then', async () => {
    const dir = tmpDir()
    const b = new LanceBackend({ bucketId: 0, storagePath: dir })
    await b.putBatch(recs(0, 30))
    await b.flush()
    const [{ version }] = (await b.versions()).slice(-1)
    await b.putBatch(recs(30, 20))
    await b.flush()
    const old = await b.checkout(version)
    expect(old.totalCount()).toBe(30)
    expect(await old.get()).toEqual(recs(0, 30))
    const streamed = []
    for await (const r of old.getStream()) streamed.push(r)
    expect(streamed).toEqual(recs(0, 30))
    expect((await old.stats()).totalCount).toBe(30)
    await expect(old.put(recs(99, 1)[0])).rejects.toMatchObject({ code: 'READ_ONLY' })
    await expect(b.checkout(999)).rejects.toMatchObject({ code: 'NOT_FOUND' })
    expect(b.totalCount()).toBe(50)
    await b.close()
  })

  it('search returns the true nearest record first; createIndex keeps the answers', async () => {
    const dir = tmpDir()
    const b = new LanceBackend({ bucketId: 0, storagePath: dir })
    const pts = Array.from({ length: 400 }, (_, i) => ({ id: `p${i}`, vector: [Math.cos(i), Math.sin(i), i / 400, 1] }))
    await b.putBatch(pts)
    const q = [Math.cos(123), Math.sin(123), 123 / 400, 1]
    const hits = await b.search('vector', q, 5)
    expect(hits).toHaveLength(5)
    expect(hits[0].id).toBe('p123')
    expect(hits[0]._distance).toBeCloseTo(0, 5)
    for (let i = 1; i < hits.length; i++) expect(hits[i]._distance as number).toBeGreaterThanOrEqual(hits[i - 1]._distance as number)
    await b.createIndex('vector')
    const again = await b.search('vector', q, 1)
    expect(again[0].id).toBe('p123')
    await expect(b.search('id', [1, 2], 1)).rejects.toBeInstanceOf(StorageError)
    await expect(b.search('vector', [1, 2], 1)).rejects.toMatchObject({ code: 'INVALID_OPTION' })
    await b.close()
  })

  it('compact() reduces the fragment count and keeps every row in order', async () => {
    const dir = tmpDir()
    const b = new LanceBackend({ bucketId: 0, storagePath: dir, compactionThreshold: 0 })
    for (let i = 0; i < 8; i++) {
      await b.putBatch(recs(i * 25, 25))
      await b.flush()
    }
    expect((await b.stats()).fragments).toBe(8)
    const before = await b.get()
    const r = await b.compact()
    expect(r.fragmentsRemoved).toBe(8)
    expect((await b.stats()).fragments).toBeLessThan(8)
    expect(await b.get()).toEqual(before)
    await b.close()
  })

  it('automatic compaction keeps frequent small flushes from piling up fragments', async () => {
    const dir = tmpDir()
    const b = new LanceBackend({ bucketId: 0, storagePath: dir, compactionThreshold: 5 })
    for (let i = 0; i < 20; i++) {
      await b.putBatch(recs(i * 5, 5))
      await b.flush()
    }
    expect((await b.stats()).fragments).toBeLessThanOrEqual(6)
    expect((await b.get()).map((r) => r.n)).toEqual(recs(0, 100).map((r) => r.n))
    await b.close()
  })

  it('merges mixed records, reads missing fields as null, keeps nested objects and numeric arrays', async () => {
    const dir = tmpDir()
    const b = new LanceBackend({ bucketId: 0, storagePath: dir })
    await b.putBatch([
      { id: 'a', n: 1, meta: { src: 'x', w: 0.5 }, vec: [0.5, 1.5], tags: ['t1'] },
      { id: 'b', extra: true, maybe: null },
    ])
    await b.flush()
    await b.put({ id: 'c', n: 3 })
    const rows = await b.get()
    expect(rows[0]).toMatchObject({ id: 'a', n: 1, meta: { src: 'x', w: 0.5 }, vec: [0.5, 1.5], tags: ['t1'], extra: null })
    expect(rows[1]).toMatchObject({ id: 'b', n: null, extra: true, maybe: null, meta: null })
    expect(rows[2]).toMatchObject({ id: 'c', n: 3, extra: null, vec: null })
    await b.close()
  })

  it('rejects a new field or a changed type after the first flush, naming the field, and loses nothing', async () => {
    const dir = tmpDir()
    const b = new LanceBackend({ bucketId: 0, storagePath: dir })
    await b.putBatch(recs(0, 5))
    await b.flush()
    await b.put(recs(5, 1)[0])
    const newField = await b.put({ ...recs(6, 1)[0], surprise: 1 }).catch((e) => e)
    expect(newField).toBeInstanceOf(StorageError)
    expect(newField.code).toBe('SCHEMA_MISMATCH')
    expect(newField.message).toContain('surprise')
    const changed = await b.put({ ...recs(6, 1)[0], n: 'six' } as never).catch((e) => e)
    expect(changed.code).toBe('SCHEMA_MISMATCH')
    expect(changed.message).toContain("'n'")
    // (A fraction for the integer field `n` is not a changed type: it widens, see values.test.ts.)
    const flipped = await b.put({ ...recs(6, 1)[0], n: true } as never).catch((e) => e)
    expect(flipped.code).toBe('SCHEMA_MISMATCH')
    for (const bad of [{ id: 'x', big: 1n }, { id: 'x', fn: () => 1 }]) {
      await expect(b.put(bad as never)).rejects.toMatchObject({ code: 'INVALID_RECORD' })
    }
    const circ: Record<string, unknown> = { id: 'x' }
    circ.self = circ
    await expect(b.put(circ)).rejects.toMatchObject({ code: 'INVALID_RECORD' })
    expect(await b.get()).toEqual(recs(0, 6))
    await b.flush()
    await b.close()
    const again = new LanceBackend({ bucketId: 0, storagePath: dir })
    expect(await again.get()).toEqual(recs(0, 6))
    await again.close()
  })

  it('rejects unknown options and bad values with INVALID_OPTION', () => {
    const dir = tmpDir()
    const invalid = (name: string) => expect.objectContaining({ code: 'INVALID_OPTION', message: expect.stringContaining(name) })
    expect(() => new LanceBackend({ bucketId: 0, storagePath: dir, flushTreshold: 5 } as never)).toThrow(invalid('flushTreshold'))
    expect(() => new LanceBackend({ bucketId: 0, storagePath: dir, batchSize: -1 })).toThrow(invalid('batchSize'))
    expect(() => new LanceBackend({ bucketId: 0, storagePath: dir, compression: 'gzip' } as never)).toThrow(invalid('gzip'))
    expect(() => new LanceBackend({ bucketId: 0, storagePath: dir, readOnly: 'yes' } as never)).toThrow(invalid('readOnly'))
    expect(() => new LanceBackend({ bucketId: 0 } as never)).toThrow(invalid('storagePath'))
    expect(() => new LanceBackend(null as never)).toThrow(StorageError)
  })

  it('writes only under storagePath: data.lance holds data, versions and transactions', async () => {
    const dir = tmpDir()
    const b = new LanceBackend({ bucketId: 0, storagePath: dir })
    await b.putBatch(recs(0, 3))
    await b.close()
    // LOCK is the bucket's writer lock (one writer per bucket, released on close).
    const files = [...listFiles(dir).keys()].filter((f) => f !== 'LOCK')
    expect(files.every((f) => f.startsWith('data.lance'))).toBe(true)
    expect(files.some((f) => f.startsWith(path.join('data.lance', '_versions')))).toBe(true)
  })
})
