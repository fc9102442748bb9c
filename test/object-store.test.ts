/**
 * Buckets on an S3-compatible object store (a real server on loopback, s3s-fs): data in the
 * store, the WAL on the writer's disk until records are committed there, one writer per bucket
 * across hosts (leases), writers owning disjoint buckets (rank/worldSize), and readers elsewhere
 * following new commits.
 */
import * as fs from 'node:fs'
import * as path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { PersistingBackend } from '../src/backends/persisting.js'
import { LanceBackend } from '../src/backends/lance.js'
import { createSystem, readQueue, writeQueue, type Row } from '../src/index.js'
import { StorageError } from '../src/errors.js'
import { vegaJson } from './helpers/datasets.js'
import { s3ServerBinary, startS3Server, type S3Server } from './helpers/s3.js'
import { tmpDir } from './helpers/tmp.js'
import { distBuilt, killLoop, runChild, verifyBucket } from './reliability/driver.mjs'
import { cli, ndjson, parseNdjson } from './cli/run.js'

const binary = s3ServerBinary()
if (!binary) {
  console.warn('object-store tests skipped: the S3 server is not built here (bash scripts/s3-server.sh --build)')
}

interface Flight extends Row {
  id: string
  date: string
  delay: number
  distance: number
  origin: string
  destination: string
}
const flights: Flight[] = vegaJson<Omit<Flight, 'id'>>('flights-2k.json').map((f, i) => ({ id: `f${i}`, ...f }) as Flight)

async function rejection(p: Promise<unknown> | (() => unknown)): Promise<StorageError> {
  try {
    await (typeof p === 'function' ? p() : p)
  } catch (e) {
    return e as StorageError
  }
  throw new Error('expected a rejection')
}

/** Keys under an s3:// prefix, as files the server stores. */
function storedFiles(server: S3Server, uri: string): string[] {
  const root = path.join(server.dir, uri.slice('s3://'.length))
  const out: string[] = []
  const walk = (d: string) => {
    if (!fs.existsSync(d)) return
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name)
      if (e.isDirectory()) walk(p)
      else out.push(path.relative(root, p))
    }
  }
  walk(root)
  return out
}

describe.skipIf(!binary)('object store (s3://, a real S3 server on loopback)', () => {
  let server: S3Server
  beforeAll(async () => {
    server = await startS3Server(binary!)
  })
  afterAll(async () => {
    await server?.stop()
  })

  it('PersistingBackend stores in the bucket, keeps its WAL on local disk, and reopens with every record', async () => {
    const uri = server.uri('bucket')
    const walPath = tmpDir()
    const opts = { bucketId: 0, storagePath: uri, storageOptions: server.storageOptions, walPath, enableWal: true, walSyncInterval: 0, flushThreshold: 500 }
    const b = new PersistingBackend(opts)
    await b.putBatch(flights.slice(0, 1200))
    await b.put(flights[1200])
    // Acknowledged, not all flushed: the WAL holds the rest, on this host's disk.
    expect(fs.readdirSync(path.join(walPath, 'wal')).some((f) => f.startsWith('wal-'))).toBe(true)
    await b.close()
    const files = storedFiles(server, uri)
    expect(files.some((f) => f.startsWith('data.lance/_versions/'))).toBe(true)
    expect(files.some((f) => f.startsWith('data.lance/data/'))).toBe(true)
    expect(files).toContain('_lease.json')

    const again = new PersistingBackend(opts)
    expect(again.totalCount()).toBe(1201)
    const rows = await again.get(0, null)
    expect(rows).toEqual(flights.slice(0, 1201))
    await again.close()

    // A reader elsewhere needs no walPath: it reads what was committed to the store.
    const reader = new LanceBackend({ bucketId: 0, storagePath: uri, storageOptions: server.storageOptions, readOnly: true })
    expect(reader.totalCount()).toBe(1201)
    expect((await reader.get(1195, 10)).map((r) => r.id)).toEqual(flights.slice(1195, 1201).map((f) => f.id))
    await reader.close()
  })

  it('a WAL on an object store needs walPath: INVALID_OPTION naming it', async () => {
    const b = new PersistingBackend({ bucketId: 0, storagePath: server.uri(), storageOptions: server.storageOptions, enableWal: true })
    const e = await rejection(() => b.put({ id: 'x' }))
    expect(e).toBeInstanceOf(StorageError)
    expect(e.code).toBe('INVALID_OPTION')
    expect(e.message).toMatch(/walPath/)
    await b.close()
  })

  it('one writer per bucket: a second one gets LOCKED naming the owner, and takes over once the first closes', async () => {
    const uri = server.uri('lease')
    const base = { bucketId: 0, storagePath: uri, storageOptions: server.storageOptions }
    const a = new LanceBackend({ ...base, walPath: tmpDir() })
    await a.putBatch(flights.slice(0, 10))
    await a.flush()
    const b = new LanceBackend({ ...base, walPath: tmpDir() })
    const e = await rejection(() => b.put(flights[10]))
    expect(e.code).toBe('LOCKED')
    expect(e.message).toMatch(/owned by writer .* on host/)
    await b.close()
    await a.close()
    const c = new LanceBackend({ ...base, walPath: tmpDir() })
    await c.put(flights[10])
    await c.close()
    const r = new LanceBackend({ ...base, readOnly: true })
    expect(r.totalCount()).toBe(11)
    await r.close()
  })

  it('a killed writer: others wait for its lease to expire, its own restart (same walPath) takes the bucket at once with every acknowledged record', async () => {
    expect(distBuilt()).toBe(true)
    const uri = server.uri('killed')
    const walPath = tmpDir()
    // The default lease timeout (30 s): others stay refused however slow this machine is.
    const backendOptions = { storageOptions: server.storageOptions, walPath }
    const run = await runChild({ dir: uri, mode: 'stream', options: { walSyncInterval: 0, flushThreshold: 40, backendOptions }, killAfterMs: 1500 })
    expect(run.signal).toBe('SIGKILL')
    const acked = run.acks.reduce((n, [, k]) => n + k, 0)
    expect(acked).toBeGreaterThan(0)

    const other = new LanceBackend({ bucketId: 0, storagePath: uri, storageOptions: server.storageOptions, walPath: tmpDir() })
    expect((await rejection(() => other.flush())).code).toBe('LOCKED')
    await other.close()

    // The restart replays the WAL it left on this disk: nothing acknowledged is lost or doubled.
    const v = await verifyBucket(uri, { backendOptions })
    expect(v.error).toBeUndefined()
    expect(v.bad).toEqual([])
    expect(v.ranges[0][0]).toBe(0)
    expect(v.ranges).toHaveLength(1)
    expect(v.count).toBeGreaterThanOrEqual(acked)
  })

  it('a writer with another walPath takes a dead writer\'s bucket after leaseTimeout', { timeout: 60_000 }, async () => {
    const uri = server.uri('expiry')
    const run = await runChild({
      dir: uri,
      mode: 'stream',
      // Renewed every 2 s: the check right after the kill has 4 s of margin on a loaded machine.
      options: { enableWal: false, flushThreshold: 20, backendOptions: { storageOptions: server.storageOptions, leaseTimeout: 6 } },
      killAfterMs: 800,
    })
    expect(run.signal).toBe('SIGKILL')
    const base = { bucketId: 0, storagePath: uri, storageOptions: server.storageOptions, leaseTimeout: 6 }
    const early = new LanceBackend({ ...base, walPath: tmpDir() })
    expect((await rejection(() => early.flush())).code).toBe('LOCKED')
    await early.close()
    await new Promise((r) => setTimeout(r, 7500))
    const later = new LanceBackend({ ...base, walPath: tmpDir() })
    const before = later.totalCount()
    await later.put({ seq: before, tag: `r${before}`, n: before, pad: 'x' })
    await later.flush()
    expect(later.totalCount()).toBe(before + 1)
    await later.close()
  })

  it('kill -9 loop on the object store: nothing acknowledged is lost or duplicated', { timeout: 240_000 }, async () => {
    const walDirs = new Map<string, string>()
    const s = await killLoop({
      rounds: 6,
      walSyncInterval: 0,
      roundsPerDir: 3,
      makeDir: () => server.uri('kill'),
      backendOptions: (dir) => {
        if (!walDirs.has(dir)) walDirs.set(dir, tmpDir())
        return { storageOptions: server.storageOptions, walPath: walDirs.get(dir) }
      },
    })
    expect(s.problems).toEqual([])
    expect({ lost: s.lost, duplicated: s.duplicated }).toEqual({ lost: 0, duplicated: 0 })
    expect(s.acknowledged).toBeGreaterThan(6 * 5)
  })

  it('queue writers own disjoint buckets (rank/worldSize); a reader in another system reads each record once', async () => {
    const storagePath = server.uri('queue')
    const topicOpts = { numBuckets: 4, storagePath, storageOptions: server.storageOptions, backend: 'persisting', backendOptions: { enableWal: true, walSyncInterval: 0 } }
    const hostA = await createSystem()
    const hostB = await createSystem()
    const w0 = await writeQueue<Flight>(hostA, 'flights', { ...topicOpts, walPath: tmpDir(), rank: 0, worldSize: 2 })
    const w1 = await writeQueue<Flight>(hostB, 'flights', { ...topicOpts, walPath: tmpDir(), rank: 1, worldSize: 2 })
    const mine = (rank: number) => flights.filter((f) => w0.getBucketId(f.id) % 2 === rank)
    const [for0, for1] = [mine(0), mine(1)]
    expect(for0.length).toBeGreaterThan(100)
    expect(for1.length).toBeGreaterThan(100)

    // A record of another writer's bucket rejects the whole call; nothing of it is stored.
    const e = await rejection(w0.putBatch([for0[0], for1[0]]))
    expect(e.code).toBe('NOT_OWNER')
    expect(e.message).toMatch(/does not own/)

    await w0.putBatch(for0)
    await w1.putBatch(for1)
    // A third writer claiming rank 0's buckets fails at once, naming the owner.
    const hostC = await createSystem()
    const dup = await rejection(writeQueue(hostC, 'flights', { ...topicOpts, walPath: tmpDir(), rank: 0, worldSize: 2 }))
    expect(dup.code).toBe('LOCKED')
    await hostC.shutdown()

    await w0.flush()
    await w1.flush()
    const hostR = await createSystem()
    const reader = await readQueue<Flight>(hostR, 'flights', { numBuckets: 4, storagePath, storageOptions: server.storageOptions, backend: 'persisting' })
    const got = await reader.get({ limit: 5000 })
    expect(got.map((f) => f.id).sort()).toEqual(flights.map((f) => f.id).sort())
    await hostR.shutdown()
    await hostA.shutdown()
    await hostB.shutdown()
  })

  it('a blocking reader in another system wakes on a new commit to the store', async () => {
    const storagePath = server.uri('tail')
    const topicOpts = { numBuckets: 1, storagePath, storageOptions: server.storageOptions, backend: 'lance' }
    const writerHost = await createSystem()
    const readerHost = await createSystem()
    const writer = await writeQueue<Flight>(writerHost, 't', topicOpts)
    await writer.putBatch(flights.slice(0, 5))
    await writer.flush()
    const reader = await readQueue<Flight>(readerHost, 't', topicOpts)
    const it = reader.getStream({ block: true })[Symbol.asyncIterator]()
    const id = async (next: Promise<IteratorResult<Flight>>) => ((await next).value as Flight).id
    for (let i = 0; i < 5; i++) expect(await id(it.next())).toBe(`f${i}`)
    const next = it.next()
    await writer.put(flights[5])
    await writer.flush()
    // The reader follows new versions with back-off (at most 500 ms between looks on an object store).
    expect(await id(next)).toBe('f5')
    await it.return?.(undefined)
    await readerHost.shutdown()
    await writerHost.shutdown()
  })

  it('the CLI: two ingests with --rank split a file between them; stats and read see every record once', async () => {
    const root = server.uri('cli')
    const store = Object.entries(server.storageOptions).flatMap(([k, v]) => ['--storage-option', `${k}=${v}`])
    const where = ['--storage-path', root, '--topic', 'flights', '--buckets', '4', ...store]
    const input = ndjson(flights.slice(0, 600))
    for (const rank of [0, 1]) {
      const r = await cli(['ingest', '-', ...where, '--rank', String(rank), '--world-size', '2', '--wal-path', tmpDir(), '--json'], { input })
      expect(r.stderr).toBe('')
      expect(r.code).toBe(0)
      const summary = JSON.parse(r.stdout)
      expect(summary.ingested + summary.otherRanks).toBe(600)
    }
    const stats = await cli(['stats', ...where, '--json'])
    expect(stats.code).toBe(0)
    expect(JSON.parse(stats.stdout).records).toBe(600)
    const read = await cli(['read', ...where, '--limit', '1000'])
    expect(read.code).toBe(0)
    expect(parseNdjson(read.stdout).map((r) => r.id).sort()).toEqual(flights.slice(0, 600).map((f) => f.id).sort())
  })
})
