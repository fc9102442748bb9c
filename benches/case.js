// One benchmark case in its own process, so peak RSS (process.resourceUsage().maxRSS) belongs
// to one contender only.   node benches/case.js '<json args>'
// Prints progress on stderr and one line `RESULT {...}` on stdout.
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { makeRecords, jsonBytesPerRecord, recordGenerator, toBatches } from './lib/records.js'
import { makeContender, probePeers } from './lib/contenders.js'
import { RespClient } from './lib/redis.js'
import { maxRssMB, percentile, rmrf, sleep, tmpDir } from './lib/util.js'

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const args = JSON.parse(process.argv[2] ?? '{}')

/** A fresh directory for this case: under the runner's per-case dir (which the runner deletes
 * even when it has to kill us), or under os.tmpdir() when run by hand. */
function workDir(tag) {
  return args.workDir ? fs.mkdtempSync(path.join(args.workDir, `${tag}-`)) : tmpDir(tag)
}
const now = () => performance.now()

// Watchdog: a case that makes no progress for STALL_SEC reports what it knows and exits, so a
// hung library call shows up as a precise error instead of the runner's timeout.
const STALL_SEC = args.stallSec ?? 30
let lastProgress = now()
let stallInfo = () => ({})
const touch = () => {
  lastProgress = now()
}
setInterval(() => {
  if (now() - lastProgress < STALL_SEC * 1000) return
  let info
  try {
    info = stallInfo()
  } catch (err) {
    info = { statsError: String(err) }
  }
  process.stdout.write(
    `RESULT ${JSON.stringify({ error: `stalled: no progress for ${STALL_SEC} s (a library call never returned); state: ${JSON.stringify(info)}`, maxRssMB: maxRssMB() })}\n`,
  )
  process.exit(3)
}, 1000).unref()

/** Lets the watchdog report a backend's native stats (synchronous) when a case hangs. */
function watchBackend(b) {
  stallInfo = () => {
    const s = b.store?.stats?.()
    return s ? { totalCount: s.totalCount, bufferCount: s.bufferCount, persistedCount: s.persistedCount, version: s.version, fragments: s.fragments, walFsyncs: s.walFsyncs } : {}
  }
}

const cpuSec = () => {
  const u = process.cpuUsage()
  return (u.user + u.system) / 1e6
}

function emit(obj) {
  process.stdout.write(`RESULT ${JSON.stringify({ ...obj, maxRssMB: maxRssMB(), cpuSec: cpuSec() })}\n`)
}

// ---------------------------------------------------------------------------------------------
// Section 1/2: ingestion of the same batches.
async function ingest(a) {
  const records = makeRecords(a.set, a.records)
  const bytesPerRecord = jsonBytesPerRecord(records)
  const batches = toBatches(records, a.batch)
  const dir = workDir(`ingest-${a.contender}`)
  const rssBefore = process.memoryUsage().rss / 1048576
  try {
    const c = await makeContender(a.contender, a.options, a.set, a.batch)
    await c.open(dir)
    if (c.backend) watchBackend(c.backend())
    const capMs = a.timeCapSec * 1000
    let done = 0
    let calls = 0
    const t0 = now()
    for (const batch of batches) {
      await c.write(batch)
      done += batch.length
      calls++
      touch()
      if (now() - t0 > capMs) break
    }
    const tAck = now()
    await c.finish()
    const tEnd = now()
    const info = await c.info()
    await c.close()
    const secs = (tEnd - t0) / 1000
    emit({
      records: done,
      calls,
      capped: done < records.length,
      secs,
      recPerSec: a.contender === 'noop' ? null : done / secs,
      ackRecPerSec: done / ((tAck - t0) / 1000),
      finishSecs: (tEnd - tAck) / 1000,
      bytesPerRecord,
      mbPerSec: (done * bytesPerRecord) / 1e6 / secs,
      rssBeforeMB: rssBefore,
      info,
    })
  } finally {
    rmrf(dir)
  }
}

// ---------------------------------------------------------------------------------------------
// Section 3: durable single-record writes from concurrent producers, fsync before each ack.
async function durable(a) {
  const records = makeRecords('A', a.records)
  const capMs = a.timeCapSec * 1000
  const dir = workDir(`durable-${a.contender}`)
  let next = 0
  const lat = []
  let t0
  let stop = false
  const extra = {}
  const producers = async (putOne) => {
    const one = async (_, p) => {
      while (!stop && next < records.length) {
        const r = records[next++]
        const t = now()
        await putOne(r, p)
        lat.push(now() - t)
        touch()
        if (now() - t0 > capMs) stop = true
      }
    }
    t0 = now()
    await Promise.all(Array.from({ length: a.producers }, one))
    return now()
  }
  try {
    let tEnd
    if (a.contender === 'persisting') {
      const pst = await import('../dist/index.js')
      const b = new pst.PersistingBackend({ bucketId: 0, storagePath: dir, enableWal: true, walSyncInterval: 0 })
      watchBackend(b)
      const before = (await b.stats()).walFsyncs
      tEnd = await producers((r) => b.put(r))
      const s = await b.stats()
      extra.fsyncs = s.walFsyncs - before
      extra.recordsPerFsync = lat.length / extra.fsyncs
      extra.versions = s.version
      await b.close()
    } else if (a.contender === 'sqlite') {
      const c = await makeContender('sqlite', { synchronous: 'FULL' }, 'A', 1)
      await c.open(dir)
      // better-sqlite3 is synchronous: the producers interleave but every commit blocks the thread.
      tEnd = await producers(async (r) => {
        c.single(r)
        await null
      })
      extra.pragmas = (await c.info()).pragmas
      await c.close()
    } else if (a.contender === 'lmdb') {
      const { open } = await import('lmdb')
      const db = open({ path: path.join(dir, 'bench.mdb') })
      tEnd = await producers(async (r) => {
        await db.put(r.id, r)
        await db.flushed
      })
      await db.close()
    } else if (a.contender === 'level') {
      const { ClassicLevel } = await import('classic-level')
      const db = new ClassicLevel(path.join(dir, 'bench.level'), { valueEncoding: 'json' })
      await db.open()
      tEnd = await producers((r) => db.put(r.id, r, { sync: true }))
      await db.close()
    } else if (a.contender === 'redis') {
      const conns = await Promise.all(Array.from({ length: a.producers }, () => RespClient.connect(a.redisPort)))
      extra.appendfsync = (await conns[0].cmd('CONFIG', 'GET', 'appendfsync'))[1]
      extra.appendonly = (await conns[0].cmd('CONFIG', 'GET', 'appendonly'))[1]
      if (extra.appendfsync !== 'always' || extra.appendonly !== 'yes') {
        throw new Error(`redis is not in appendfsync always mode: ${JSON.stringify(extra)}`)
      }
      await conns[0].cmd('DEL', 'bench')
      // One connection per producer, as 64 independent clients would have.
      tEnd = await producers((r, p) =>
        conns[p].cmd('XADD', 'bench', '*', 'id', r.id, 'n', r.n, 'x', r.x, 'text', r.text, 'ts', r.ts),
      )
      extra.streamLength = await conns[0].cmd('XLEN', 'bench')
      await conns[0].cmd('DEL', 'bench')
      for (const c of conns) c.close()
    } else {
      throw new Error(`no durable case for ${a.contender}`)
    }
    lat.sort((x, y) => x - y)
    const secs = (tEnd - t0) / 1000
    emit({
      records: lat.length,
      secs,
      acksPerSec: lat.length / secs,
      p50Ms: percentile(lat, 50),
      p99Ms: percentile(lat, 99),
      capped: lat.length < records.length,
      ...extra,
    })
  } finally {
    rmrf(dir)
  }
}

// ---------------------------------------------------------------------------------------------
// Section 4: read-back. `readprep` writes N records into a directory the runner keeps; `read`
// opens it in a fresh process and turns every record into a plain JS object.
async function readprep(a) {
  const records = makeRecords('A', a.records)
  const batches = toBatches(records, 10_000)
  const c = await makeContender(a.contender, a.options ?? {}, 'A', 10_000)
  await c.open(a.dir)
  // With flushEach, every 10k batch is flushed at once and timed: flush cost vs dataset size.
  const flushMs = []
  const t0 = now()
  if (c.backend) watchBackend(c.backend())
  for (const b of batches) {
    await c.write(b)
    touch()
    if (a.flushEach) {
      const t = now()
      await c.finish()
      flushMs.push(now() - t)
    }
  }
  await c.finish()
  const secs = (now() - t0) / 1000
  const info = await c.info()
  await c.close()
  const out = { records: records.length, secs, info }
  if (flushMs.length) {
    const k = Math.max(1, Math.floor(flushMs.length / 10))
    const med = (xs) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)]
    out.flush = {
      count: flushMs.length,
      firstTenthMedianMs: med(flushMs.slice(0, k)),
      lastTenthMedianMs: med(flushMs.slice(-k)),
      maxMs: Math.max(...flushMs),
      medianMs: med(flushMs),
    }
  }
  emit(out)
}

// RSS while writing N records that are generated batch by batch (so the records themselves
// are not held): bounded by the buffer thresholds, or growing with the data written?
async function rssStream(a) {
  const next = recordGenerator('A')
  const dir = workDir(`rss-${a.contender ?? 'persisting'}`)
  try {
    const c = await makeContender(a.contender ?? 'persisting', a.options ?? {}, 'A', a.batch)
    await c.open(dir)
    if (c.backend) watchBackend(c.backend())
    const samples = []
    const every = Math.max(1, Math.floor(a.records / a.batch / 10))
    const t0 = now()
    let done = 0
    let k = 0
    const capMs = (a.timeCapSec ?? Infinity) * 1000
    while (done < a.records && now() - t0 < capMs) {
      const batch = new Array(Math.min(a.batch, a.records - done))
      for (let i = 0; i < batch.length; i++) batch[i] = next()
      await c.write(batch)
      done += batch.length
      touch()
      if (++k % every === 0) samples.push({ records: done, rssMB: process.memoryUsage().rss / 1048576 })
    }
    await c.finish()
    const secs = (now() - t0) / 1000
    const info = await c.info()
    await c.close()
    emit({ records: done, capped: done < a.records, secs, recPerSec: done / secs, samples, info })
  } finally {
    rmrf(dir)
  }
}

function checkSample(rows, sample) {
  for (let i = 0; i < sample.length; i++) {
    const r = rows[i]
    const s = sample[i]
    if (!r || r.id !== s.id || Number(r.n) !== s.n || r.x !== s.x || r.text !== s.text || r.ts !== s.ts) {
      return `record ${i} differs: got ${JSON.stringify(r)}, wrote ${JSON.stringify(s)}`
    }
  }
  return null
}

async function read(a) {
  const sample = makeRecords('A', 200)
  let n = 0
  let sink = 0
  const head = []
  const take = (r) => {
    if ((n & 1023) === 0) touch()
    if (head.length < sample.length) head.push(r)
    sink += r.text.length
    n++
  }
  let t0
  let tOpen
  if (a.contender === 'ours') {
    const pst = await import('../dist/index.js')
    t0 = now()
    const b = new pst.PersistingBackend({ bucketId: 0, storagePath: a.dir })
    if (b.totalCount() !== a.records) throw new Error(`reopened store has ${b.totalCount()} records, expected ${a.records}`)
    tOpen = now()
    if (a.method === 'getStream') {
      for await (const r of b.getStream()) take(r)
    } else if (a.method === 'get') {
      for (let off = 0; off < a.records; off += a.chunk) {
        const rows = await b.get(off, a.chunk)
        for (const r of rows) take(r)
      }
    } else throw new Error(`unknown method ${a.method}`)
    const tEnd = now()
    await b.close()
    return finishRead(a, n, t0, tOpen, tEnd, sink, checkSample(head, sample))
  }
  if (a.contender === 'lancedb') {
    const ldb = await import('@lancedb/lancedb')
    t0 = now()
    const db = await ldb.connect(a.dir)
    const table = await db.openTable('bench')
    tOpen = now()
    let tRows
    if (a.method === 'toArray') {
      const rows = await table.query().toArray()
      tRows = now()
      // toArray() gives Arrow StructRow proxies; toJSON() makes the plain objects we compare.
      for (const row of rows) take(row.toJSON())
    } else if (a.method === 'iterator') {
      for await (const batch of table.query()) {
        for (const row of batch) take(row.toJSON())
      }
    } else throw new Error(`unknown method ${a.method}`)
    const tEnd = now()
    table.close()
    db.close()
    const res = finishRead(a, n, t0, tOpen, tEnd, sink, checkSample(head, sample))
    if (tRows) res.proxyRecPerSec = n / ((tRows - tOpen) / 1000)
    return res
  }
  if (a.contender === 'json') {
    // Reference: JSON.parse of the same records' JSON text, in 10,000-record arrays.
    const recs = makeRecords('A', a.records)
    const texts = toBatches(recs, 10_000).map((b) => JSON.stringify(b))
    recs.length = 0
    t0 = now()
    tOpen = t0
    for (const t of texts) for (const r of JSON.parse(t)) take(r)
    return finishRead(a, n, t0, tOpen, now(), sink, checkSample(head, sample))
  }
  throw new Error(`unknown read contender ${a.contender}`)
}

function finishRead(a, n, t0, tOpen, tEnd, sink, mismatch) {
  if (n !== a.records) throw new Error(`read ${n} records, expected ${a.records}`)
  const res = {
    records: n,
    openSecs: (tOpen - t0) / 1000,
    secs: (tEnd - tOpen) / 1000,
    recPerSec: n / ((tEnd - tOpen) / 1000),
    mismatch,
    sink,
  }
  return res
}

// ---------------------------------------------------------------------------------------------
// Section 5: producer -> blocking consumer latency in one process.
async function latency(a) {
  const records = makeRecords('A', a.n)
  const dir = workDir(`latency-${a.contender}`)
  const lat = []
  try {
    if (a.contender === 'floor') {
      // The JS floor: a pending promise resolved by the producer (what any in-process handoff costs).
      const q = []
      let wake = null
      const consumer = (async () => {
        let got = 0
        while (got < a.n) {
          if (q.length === 0) await new Promise((r) => (wake = r))
          while (q.length) {
            const r = q.shift()
            lat.push(now() - r.t0)
            touch()
            got++
          }
        }
      })()
      for (const r of records) {
        q.push({ ...r, t0: now() })
        if (wake) {
          const w = wake
          wake = null
          w()
        }
        await sleep(a.gapMs)
      }
      await consumer
    } else if (a.contender === 'redis') {
      const prod = await RespClient.connect(a.redisPort)
      const cons = await RespClient.connect(a.redisPort)
      await prod.cmd('DEL', 'lat')
      const consumer = (async () => {
        let last = '0-0'
        let got = 0
        while (got < a.n) {
          const res = await cons.cmd('XREAD', 'BLOCK', '0', 'COUNT', '1000', 'STREAMS', 'lat', last)
          const tRecv = now()
          for (const [id, fields] of res[0][1]) {
            last = id
            lat.push(tRecv - Number(fields[fields.indexOf('t0') + 1]))
            touch()
            got++
          }
        }
      })()
      for (const r of records) {
        await prod.cmd('XADD', 'lat', '*', 'id', r.id, 'n', r.n, 'x', r.x, 'text', r.text, 'ts', r.ts, 't0', now())
        await sleep(a.gapMs)
      }
      await consumer
      await prod.cmd('DEL', 'lat')
      prod.close()
      cons.close()
    } else {
      const pst = await import('../dist/index.js')
      const Cls = { memory: pst.MemoryBackend, lance: pst.LanceBackend, persisting: pst.PersistingBackend }[a.contender]
      const b = new Cls({ bucketId: 0, storagePath: dir, ...(a.options ?? {}) })
      const consumer = (async () => {
        for await (const r of b.getStream(0, a.n, true)) {
          lat.push(now() - r.t0)
          touch()
        }
      })()
      for (const r of records) {
        await b.put({ ...r, t0: now() })
        await sleep(a.gapMs)
      }
      await consumer
      await b.close()
    }
    lat.sort((x, y) => x - y)
    emit({ n: lat.length, p50Ms: percentile(lat, 50), p99Ms: percentile(lat, 99), maxMs: lat[lat.length - 1] })
  } finally {
    rmrf(dir)
  }
}

// ---------------------------------------------------------------------------------------------
// Section 6: physical references.
async function json(a) {
  const records = makeRecords(a.set, a.records)
  const bytesPerRecord = jsonBytesPerRecord(records)
  const out = { bytesPerRecord, stringify: {}, parse: {} }
  for (const bs of a.batches) {
    const batches = toBatches(records, bs)
    const texts = new Array(batches.length)
    // Warm-up on a slice, then one timed pass.
    for (let i = 0; i < Math.min(batches.length, 20); i++) JSON.stringify(batches[i])
    let t0 = now()
    for (let i = 0; i < batches.length; i++) texts[i] = JSON.stringify(batches[i])
    out.stringify[bs] = records.length / ((now() - t0) / 1000)
    let sink = 0
    t0 = now()
    for (let i = 0; i < texts.length; i++) sink += JSON.parse(texts[i]).length
    out.parse[bs] = sink / ((now() - t0) / 1000)
  }
  emit(out)
}

async function disk(a) {
  const dir = workDir('disk')
  try {
    // Small appends, each followed by fdatasync (what a WAL commit costs at the least).
    const rec = Buffer.from(JSON.stringify(makeRecords('A', 1)[0]) + '\n')
    const fsyncs = {}
    for (const [name, sync] of [['fdatasync', fs.fdatasyncSync], ['fsync', fs.fsyncSync]]) {
      const fd = fs.openSync(path.join(dir, `append-${name}`), 'w')
      let n = 0
      const t0 = now()
      const end = t0 + a.fsyncSecs * 1000
      while (now() < end) {
        fs.writeSync(fd, rec)
        sync(fd)
        n++
      }
      fsyncs[name] = n / ((now() - t0) / 1000)
      fs.closeSync(fd)
    }
    // The same into a preallocated file (no size change, so fdatasync need not commit metadata):
    // what a WAL that preallocates its segments would pay.
    {
      const fd = fs.openSync(path.join(dir, 'prealloc'), 'w')
      const zero = Buffer.alloc(1 << 20)
      for (let i = 0; i < 16; i++) fs.writeSync(fd, zero)
      fs.fsyncSync(fd)
      let n = 0
      let pos = 0
      const t0 = now()
      const end = t0 + a.fsyncSecs * 1000
      while (now() < end && pos + rec.length < 16 << 20) {
        fs.writeSync(fd, rec, 0, rec.length, pos)
        pos += rec.length
        fs.fdatasyncSync(fd)
        n++
      }
      fsyncs.preallocFdatasync = n / ((now() - t0) / 1000)
      fs.closeSync(fd)
    }
    // Sequential write bandwidth: 1 MiB writes, one fdatasync at the end (counted).
    const chunk = Buffer.alloc(1 << 20, 0x61)
    for (let i = 0; i < chunk.length; i += 97) chunk[i] = (i * 31) & 0xff
    const fd = fs.openSync(path.join(dir, 'seq'), 'w')
    const t0 = now()
    for (let i = 0; i < a.seqMiB; i++) fs.writeSync(fd, chunk)
    fs.fdatasyncSync(fd)
    const secs = (now() - t0) / 1000
    fs.closeSync(fd)
    emit({ ...fsyncs, seqMBps: (a.seqMiB * 1.048576) / secs, seqMiB: a.seqMiB })
  } finally {
    rmrf(dir)
  }
}

// ---------------------------------------------------------------------------------------------
const kinds = {
  ingest,
  durable,
  readprep,
  read: async (a) => emit(await read(a)),
  latency,
  json,
  disk,
  rssStream,
  probe: async () => emit({ peers: await probePeers(ROOT) }),
}
const fn = kinds[args.kind]
if (!fn) {
  console.error(`unknown case kind ${args.kind}`)
  process.exit(2)
}
try {
  await fn(args)
} catch (err) {
  process.stdout.write(`RESULT ${JSON.stringify({ error: String(err?.stack ?? err), cpuSec: cpuSec() })}\n`)
  process.exitCode = 1
}
// Native libraries may keep worker threads alive; the result is out, so leave.
setTimeout(() => process.exit(process.exitCode ?? 0), 50).unref()
