// Benchmark runner: the measuring sections (6 physical, 2 peers, 1 ours, 3 durable, 4 read-back, 5 latency) and Redis for 3 and 5.
import { ensureRedisServer, startRedis } from './redis.js'
import { rmrf, tmpDir } from './util.js'
import { BATCHES_A, BATCHES_B, flag, OURS, OURS_B, oursConfig, PEERS, PLAN, VARIANTS, want } from './run-plan.js'
import { cleanup, put, runCase, runIngest, skipped } from './run-cases.js'

/** Section 6: the physical references the other ratios are taken against. */
export async function measurePhysical(results) {
  console.log('\n6. physical references')
  for (const set of ['A', 'B']) {
    results.json[set] = await runCase(
      { kind: 'json', set, records: set === 'A' ? PLAN.json.recordsA : PLAN.json.recordsB, batches: set === 'A' ? BATCHES_A : BATCHES_B },
      `JSON.stringify / JSON.parse, set ${set}`,
    )
  }
  results.disk = await runCase({ kind: 'disk', ...PLAN.disk }, 'disk: append+fdatasync, append+fsync, sequential write')
}

/** Section 2: peers on the same batches (those `peerOk` says load here). */
export async function measurePeers(results, peerOk) {
  console.log('\n2. peers: ingestion of the same batches')
  for (const [key, p] of Object.entries(PEERS)) {
    if (!peerOk(key)) continue
    for (const [set, counts] of [['A', PLAN.countsA], ['B', PLAN.countsB]]) {
      for (const batch of Object.keys(counts).map(Number)) {
        const res = await runIngest(
          { kind: 'ingest', contender: p.contender, options: p.options, set, batch, records: counts[batch], timeCapSec: PLAN.timeCapSec },
          `${p.label}, set ${set}, batch ${batch}`,
        )
        put(results.peers, key, set, batch, res)
      }
    }
  }
}

/** Section 1: our backends, compression and flush-threshold variants, RSS while streaming. */
export async function measureIngest(results) {
  console.log('\n1. ingestion: our backends')
  for (const set of ['A', 'B']) {
    const n = Math.max(...Object.values(set === 'A' ? PLAN.countsA : PLAN.countsB))
    results.baseline[set] = await runCase(
      { kind: 'ingest', contender: 'noop', set, batch: 1000, records: n, timeCapSec: PLAN.timeCapSec },
      `baseline: generate ${n} set-${set} records, store nothing`,
    )
  }
  for (const [key, c] of Object.entries(OURS)) {
    for (const batch of BATCHES_A) {
      const res = await runIngest(
        { kind: 'ingest', contender: c.contender, options: c.options, set: 'A', batch, records: PLAN.countsA[batch], timeCapSec: PLAN.timeCapSec },
        `${c.label}, set A, batch ${batch}${batch === 1 ? ' (await put() loop)' : ''}`,
      )
      put(results.ingest, key, 'A', batch, res)
    }
  }
  for (const key of OURS_B) {
    const c = oursConfig(key)
    for (const batch of BATCHES_B) {
      const res = await runCase(
        { kind: 'ingest', contender: c.contender, options: c.options, set: 'B', batch, records: PLAN.countsB[batch], timeCapSec: PLAN.timeCapSec },
        `${c.label}, set B, batch ${batch}`,
      )
      put(results.ingest, key, 'B', batch, res)
    }
  }
  for (const [key, c] of Object.entries(VARIANTS)) {
    for (const batch of PLAN.variantBatches) {
      const res = await runCase(
        { kind: 'ingest', contender: c.contender, options: c.options, set: 'A', batch, records: PLAN.countsA[batch], timeCapSec: PLAN.timeCapSec },
        `${c.label}, set A, batch ${batch}`,
      )
      put(results.variants, key, 'A', batch, res)
    }
  }
  results.rssStream = await runCase(
    { kind: 'rssStream', records: PLAN.rssStream, batch: 1000, timeCapSec: PLAN.timeCapSec * 3 },
    `RSS while streaming ${PLAN.rssStream} records (generated per batch) into Persisting WAL off`,
  )
  if (results.peerStatus.lancedb?.ok) {
    results.rssStreamLancedb = await runCase(
      { kind: 'rssStream', contender: 'lancedb', records: PLAN.rssStream, batch: 1000, timeCapSec: PLAN.timeCapSec * 3 },
      `RSS while streaming ${PLAN.rssStream} records (generated per batch) into @lancedb/lancedb`,
    )
  }
}

/** Redis for sections 3 and 5: installed if allowed and started on a loopback port, or a skip noted. */
export async function setupRedis(results, info) {
  let redis = null
  let redisDir = null
  if (want('durable') || want('latency')) {
    const have = ensureRedisServer({ install: !flag('no-install'), log: (m) => console.log(m) })
    if (have.skip) {
      const msg = `Redis Streams skipped: ${have.skip}`
      console.log(`  ${msg}`)
      skipped.push(msg)
    } else {
      redisDir = tmpDir('redis')
      cleanup.dirs.add(redisDir)
      try {
        redis = await startRedis(have.path, redisDir)
        cleanup.redis = redis
        results.redis = { version: redis.version, port: redis.port }
        info.versions['redis-server'] = redis.version
      } catch (err) {
        const msg = `Redis Streams skipped: could not start redis-server (${err.message})`
        console.log(`  ${msg}`)
        skipped.push(msg)
        rmrf(redisDir)
        redisDir = null
      }
    }
  }
  return { redis, redisDir }
}

/** Section 3: durable small writes, 64 producers, fsync before ack. */
export async function measureDurable(results, redis) {
  console.log(`\n3. durable small writes: 64 producers, single records, fsync before ack`)
  const list = [
    ['ours', 'persisting', 'Persisting WAL sync 0 (group commit)'],
    ['sqlite-full', 'sqlite', 'better-sqlite3 WAL FULL, single-row transactions'],
    ['redis', 'redis', 'Redis Streams XADD, appendfsync always'],
    ['lmdb', 'lmdb', 'lmdb put + await flushed'],
    ['level', 'level', 'classic-level put, sync: true'],
  ]
  for (const [key, contender, label] of list) {
    if (key === 'redis' && !redis) continue
    if (['sqlite', 'lmdb', 'level'].includes(contender) && !results.peerStatus[contender]?.ok) continue
    results.durable[key] = await runCase(
      { kind: 'durable', contender, producers: 64, records: PLAN.durable.records, timeCapSec: PLAN.durable.timeCapSec, redisPort: redis?.port },
      label,
    )
    results.durable[key].label = label
  }
}

/** Section 4: read-back of prepared stores into plain JS objects. */
export async function measureRead(results) {
  console.log(`\n4. read-back of ${PLAN.readRecords} stored records into plain JS objects`)
  const dirs = {}
  try {
    dirs.ours = tmpDir('read-ours')
    cleanup.dirs.add(dirs.ours)
    results.readPrep.ours = await runCase(
      { kind: 'readprep', contender: 'persisting', dir: dirs.ours, records: PLAN.readRecords, flushEach: true },
      `prepare: ${PLAN.readRecords} records into Persisting (10k batches, flush after each; flush timings kept)`,
      PLAN.caseTimeoutSec * 2,
    )
    if (results.peerStatus.lancedb?.ok) {
      dirs.lancedb = tmpDir('read-lancedb')
      cleanup.dirs.add(dirs.lancedb)
      results.readPrep.lancedb = await runCase(
        { kind: 'readprep', contender: 'lancedb', dir: dirs.lancedb, records: PLAN.readRecords },
        `prepare: ${PLAN.readRecords} records into @lancedb/lancedb (10k batches)`,
        PLAN.caseTimeoutSec * 2,
      )
    }
    const reads = [
      ['ours-stream', { contender: 'ours', method: 'getStream', dir: dirs.ours }, 'ours: for await (getStream())'],
      ['ours-get', { contender: 'ours', method: 'get', chunk: PLAN.readChunk, dir: dirs.ours }, `ours: get(offset, ${PLAN.readChunk}) chunks`],
      ['ours-arrow', { contender: 'ours', method: 'getArrow', dir: dirs.ours }, 'ours: getArrow(0, all) → one Arrow Table'],
      ['lancedb-toArray', { contender: 'lancedb', method: 'toArray', dir: dirs.lancedb }, 'lancedb: query().toArray() + row.toJSON()'],
      ['lancedb-iter', { contender: 'lancedb', method: 'iterator', dir: dirs.lancedb }, 'lancedb: for await (batch of query()) + row.toJSON()'],
      ['json-parse', { contender: 'json' }, 'reference: JSON.parse of the same records (10k arrays)'],
    ]
    for (const [key, a, label] of reads) {
      if (a.contender === 'lancedb' && !dirs.lancedb) continue
      if (a.contender === 'ours' && results.readPrep.ours?.error) continue
      if (a.contender === 'lancedb' && results.readPrep.lancedb?.error) continue
      results.read[key] = await runCase({ kind: 'read', records: PLAN.readRecords, ...a }, label, PLAN.caseTimeoutSec * 2)
      results.read[key].label = label
    }
  } finally {
    for (const d of Object.values(dirs)) rmrf(d)
  }
}

/** Section 5: producer -> blocking consumer latency. */
export async function measureLatency(results, redis) {
  console.log(`\n5. producer -> blocking consumer latency (one process, ${PLAN.latency.n} records, ${PLAN.latency.gapMs} ms gap)`)
  if (redis) {
    // A blocking consumer is about delivery, not durability: Redis' default everysec here.
    const { RespClient } = await import('./redis.js')
    const c = await RespClient.connect(redis.port)
    await c.cmd('CONFIG', 'SET', 'appendfsync', 'everysec')
    c.close()
  }
  const list = [
    ['floor', { contender: 'floor' }, 'JS floor: resolve a pending promise'],
    ['memory', { contender: 'memory' }, 'MemoryBackend getStream(block)'],
    ['lance', { contender: 'lance' }, 'LanceBackend getStream(block)'],
    ['p-off', { contender: 'persisting' }, 'Persisting WAL off getStream(block)'],
    ['p-0', { contender: 'persisting', options: { enableWal: true, walSyncInterval: 0 } }, 'Persisting WAL sync 0 getStream(block)'],
    ['redis', { contender: 'redis', redisPort: redis?.port }, 'Redis Streams XADD -> XREAD BLOCK (appendfsync everysec)'],
  ]
  for (const [key, a, label] of list) {
    if (key === 'redis' && !redis) continue
    results.latency[key] = await runCase({ kind: 'latency', ...PLAN.latency, ...a }, label)
    results.latency[key].label = label
  }
}
