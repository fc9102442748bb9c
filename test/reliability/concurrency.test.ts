/**
 * One bucket, several openers.
 * - Two writers in two processes: the second fails WAL_LOCKED (WALError, WAL on) or LOCKED
 *   (StorageError, WAL off: LanceBackend and PersistingBackend with enableWal false); its puts
 *   land nowhere; the first keeps writing; a reopen reads exactly the first writer's records.
 * - The same in one process: a second open fails while the first is open, succeeds after close.
 * - `readOnly: true` in another process reads what the writer flushed (not what it only
 *   buffered), refuses writes with READ_ONLY, and a blocking getStream there wakes on each new
 *   flush; a readQueue in another process reads the flushed records of every bucket and its
 *   blocking stream wakes on new flushes too.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { LanceBackend } from '../../src/backends/lance.js'
import { PersistingBackend } from '../../src/backends/persisting.js'
import type { StorageBackend } from '../../src/backends/types.js'
import { StorageError, WALError } from '../../src/errors.js'
import { createSystem, readQueue, writeQueue } from '../../src/queue/index.js'
import { tmpDir } from '../helpers/tmp.js'
import { Session } from './child.js'

type Kind = 'persisting-wal' | 'persisting' | 'lance'
const lockCode = (k: Kind) => (k === 'persisting-wal' ? 'WAL_LOCKED' : 'LOCKED')

function options(kind: Kind, dir: string, extra: Record<string, unknown> = {}) {
  return kind === 'lance'
    ? { bucketId: 0, storagePath: dir, flushThreshold: 1_000_000, ...extra }
    : { bucketId: 0, storagePath: dir, flushThreshold: 1_000_000, enableWal: kind === 'persisting-wal', walSyncInterval: 0, ...extra }
}
const backendName = (k: Kind) => (k === 'lance' ? 'lance' : 'persisting')
function open(kind: Kind, dir: string, extra: Record<string, unknown> = {}): StorageBackend {
  return kind === 'lance' ? new LanceBackend(options(kind, dir, extra)) : new PersistingBackend(options(kind, dir, extra))
}
const recs = (from: number, n: number) => Array.from({ length: n }, (_, i) => ({ seq: from + i, who: 'first' }))
const range = (from: number, n: number) => Array.from({ length: n }, (_, i) => from + i)

const sessions: Session[] = []
function session(): Session {
  const s = new Session()
  sessions.push(s)
  return s
}
afterEach(async () => {
  for (const s of sessions.splice(0)) {
    s.kill()
    await s.exited
  }
})

async function readSeqs(kind: Kind, dir: string): Promise<number[]> {
  const b = open(kind, dir)
  try {
    return ((await b.get()) as Array<{ seq: number }>).map((r) => r.seq)
  } finally {
    await b.close()
  }
}

function expectLockError(reply: Record<string, any>, kind: Kind, what: string): void {
  expect(reply.ok, `${what}: ${JSON.stringify(reply)}`).toBe(false)
  expect(reply.error.code, what).toBe(lockCode(kind))
  expect(reply.error.name, what).toBe(kind === 'persisting-wal' ? 'WALError' : 'StorageError')
}

describe('two writers', () => {
  for (const kind of ['persisting-wal', 'persisting', 'lance'] as const) {
    it(`${kind}: a second process fails ${lockCode(kind)}; the first keeps working; nothing is mixed`, async () => {
      const dir = tmpDir()
      const first = session()
      const second = session()
      expect((await first.send({ op: 'open', backend: backendName(kind), options: options(kind, dir) })).ok).toBe(true)
      expect((await first.send({ op: 'putBatch', recs: recs(0, 10) })).ok).toBe(true)

      expect((await second.send({ op: 'open', backend: backendName(kind), options: options(kind, dir) })).ok).toBe(true)
      const probe = await second.send({ op: 'probe' })
      if (!probe.ok) expectLockError(probe, kind, 'second open')
      const put = await second.send({ op: 'putBatch', recs: [{ seq: 999, who: 'second' }] })
      expectLockError(put, kind, 'second writer put')
      expectLockError(await second.send({ op: 'flush' }), kind, 'second writer flush')

      expect((await first.send({ op: 'putBatch', recs: recs(10, 10) })).ok).toBe(true)
      expect((await first.send({ op: 'flush' })).ok).toBe(true)
      expect((await first.send({ op: 'put', rec: { seq: 20, who: 'first' } })).ok).toBe(true)
      expect((await first.send({ op: 'get' })).value).toEqual(range(0, 21))
      expect((await first.send({ op: 'close' })).ok).toBe(true)
      await second.send({ op: 'close' })
      expect(await readSeqs(kind, dir)).toEqual(range(0, 21))
    })
  }

  for (const kind of ['persisting-wal', 'persisting', 'lance'] as const) {
    it(`${kind}: a second open in the same process fails ${lockCode(kind)} until the first closes`, async () => {
      const dir = tmpDir()
      const a = open(kind, dir)
      await a.putBatch(recs(0, 5))
      const b = open(kind, dir)
      let err: unknown
      try {
        await b.put({ seq: 999, who: 'second' })
      } catch (e) {
        err = e
      }
      expect(err).toBeInstanceOf(kind === 'persisting-wal' ? WALError : StorageError)
      expect((err as StorageError).code).toBe(lockCode(kind))
      await b.close()
      await a.put({ seq: 5, who: 'first' })
      await a.flush()
      expect(((await a.get()) as Array<{ seq: number }>).map((r) => r.seq)).toEqual(range(0, 6))
      await a.close()
      const c = open(kind, dir)
      await c.put({ seq: 6, who: 'first' })
      expect(((await c.get()) as Array<{ seq: number }>).map((r) => r.seq)).toEqual(range(0, 7))
      await c.close()
      expect(await readSeqs(kind, dir)).toEqual(range(0, 7))
    })
  }
})

describe('readers in another process', () => {
  for (const kind of ['persisting-wal', 'lance'] as const) {
    it(`${kind}: readOnly reads flushed data while the writer runs; its blocking stream wakes on flushes`, async () => {
      const dir = tmpDir()
      const w = open(kind, dir)
      await w.putBatch(recs(0, 10))
      await w.flush()

      const r = session()
      expect((await r.send({ op: 'open', backend: backendName(kind), options: options(kind, dir, { readOnly: true }) })).ok).toBe(true)
      expect(await r.send({ op: 'get' })).toMatchObject({ ok: true, value: range(0, 10) })
      expect((await r.send({ op: 'stream', offset: 0, limit: 30 })).ok).toBe(true)
      await r.event((e) => e.event === 'row' && e.seq === 9)

      // Buffered but not flushed: not visible in another process.
      await w.putBatch(recs(10, 10))
      expect(await r.send({ op: 'get' })).toMatchObject({ ok: true, value: range(0, 10) })
      await w.flush()
      await r.event((e) => e.event === 'row' && e.seq === 19)
      await w.putBatch(recs(20, 10))
      await w.flush()
      await r.event((e) => e.event === 'streamEnd' || e.event === 'streamError')
      const rows = r.events.filter((e) => e.event === 'row').map((e) => e.seq)
      expect(rows).toEqual(range(0, 30))
      expect(r.events.find((e) => e.event === 'streamError')).toBeUndefined()
      expect(await r.send({ op: 'get' })).toMatchObject({ ok: true, value: range(0, 30) })

      for (const cmd of [{ op: 'put', rec: { seq: 999 } }, { op: 'putBatch', recs: [{ seq: 999 }] }, { op: 'flush' }]) {
        const reply = await r.send(cmd)
        expect(reply.ok, JSON.stringify(reply)).toBe(false)
        expect(reply.error.code).toBe('READ_ONLY')
      }
      // The writer was never disturbed.
      await w.put({ seq: 30, who: 'first' })
      await w.close()
      expect((await r.send({ op: 'close' })).ok).toBe(true)
      expect(await readSeqs(kind, dir)).toEqual(range(0, 31))
    })
  }

  it('a readQueue in another process reads flushed records and its blocking stream wakes on new flushes', async () => {
    const root = tmpDir()
    const storage = { storagePath: root, backend: 'persisting', numBuckets: 2, bucketColumn: 'id', backendOptions: { enableWal: true, walSyncInterval: 0 } }
    const system = await createSystem()
    const writer = await writeQueue(system, 'reliab', storage)
    const rows = (from: number, n: number) => Array.from({ length: n }, (_, i) => ({ id: `k${from + i}`, seq: from + i }))
    await writer.putBatch(rows(0, 20))
    await writer.flush()

    const r = session()
    expect(await r.send({ op: 'readQueue', topic: 'reliab', options: storage })).toMatchObject({ ok: true })
    const first = await r.send({ op: 'qget', limit: 1000 })
    expect(first.ok, JSON.stringify(first)).toBe(true)
    expect([...first.value].sort((a: number, b: number) => a - b)).toEqual(range(0, 20))
    expect((await r.send({ op: 'qstream', limit: 20 })).ok).toBe(true)

    await writer.putBatch(rows(20, 10))
    await writer.flush()
    await writer.putBatch(rows(30, 10))
    await writer.flush()
    await r.event((e) => e.event === 'qstreamEnd' || e.event === 'qstreamError')
    expect(r.events.find((e) => e.event === 'qstreamError')).toBeUndefined()
    const streamed = r.events.filter((e) => e.event === 'qrow').map((e) => e.seq)
    expect([...streamed].sort((a, b) => a - b)).toEqual(range(20, 20))
    await writer.putBatch(rows(40, 1))
    await system.shutdown()
    expect((await r.send({ op: 'shutdown' })).ok).toBe(true)

    // the writer's data is intact for a fresh writer
    const again = await createSystem()
    const check = await readQueue(again, 'reliab', storage)
    const all = (await check.get({ limit: 1000 })) as Array<{ seq: number }>
    expect(all.map((x) => x.seq).sort((a, b) => a - b)).toEqual(range(0, 41))
    await again.shutdown()
  })
})
