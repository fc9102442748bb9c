// Cases that write: ingestion (sections 1 and 2), durable small writes (3), read-back preparation (4) and RSS while streaming.
import path from 'node:path'
import { makeRecords, jsonBytesPerRecord, recordGenerator, toBatches } from '../lib/records.js'
import { makeContender } from '../lib/contenders.js'
import { RespClient } from '../lib/redis.js'
import { percentile, rmrf } from '../lib/util.js'
import { emit, now, touch, watchBackend, workDir } from './harness.js'

// ---------------------------------------------------------------------------------------------
// Section 1/2: ingestion of the same batches.
export async function ingest(a) {
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
    const inputs = c.prepare ? batches.map(c.prepare) : batches
    let done = 0
    let calls = 0
    const t0 = now()
    for (let i = 0; i < batches.length; i++) {
      await c.write(inputs[i])
      done += batches[i].length
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
export async function durable(a) {
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
      const pst = await import('../../dist/index.js')
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
export async function readprep(a) {
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
export async function rssStream(a) {
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
