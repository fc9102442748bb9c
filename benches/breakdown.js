// Where the time goes on the JavaScript thread, per record, for the paths issue 5 targets.
//   node benches/breakdown.js [--records=200000]
// Not a comparison (that is run.js): it splits one ingest into its parts by timing each call.
import fs from 'node:fs'
import { makeRecords, toBatches } from './lib/records.js'
import { tmpDir } from './lib/util.js'
import { PersistingBackend } from '../dist/backends/persisting.js'
import { encodeRecords } from '../dist/records.js'
import { encodeBatch } from '../dist/vectors.js'
import { metrics } from '../dist/metrics.js'

const arg = (name, dflt) => Number(process.argv.find((a) => a.startsWith(`--${name}=`))?.split('=')[1] ?? dflt)
const N = arg('records', 200_000)
const now = () => performance.now()
const us = (ms, n) => ((ms * 1000) / n).toFixed(3)
const cpuUs = () => {
  const c = process.cpuUsage()
  return c.user + c.system
}

const records = makeRecords('A', N)
const batches = toBatches(records, 1000)

async function withBackend(options, fn) {
  const dir = tmpDir('breakdown')
  const b = new PersistingBackend({ storagePath: dir, ...options })
  try {
    return await fn(b)
  } finally {
    await b.close()
    fs.rmSync(dir, { recursive: true, force: true })
  }
}

// Warm the JIT on both paths first so the parts are comparable.
for (let r = 0; r < 2; r++) for (const b of batches) JSON.stringify(b)

let t = now()
for (const b of batches) JSON.stringify(b)
const stringifyMs = now() - t

/** Times each 1000-record call's parts: encoding, the native put, waiting on its ack. */
async function timedPuts(store, batches, encode, put) {
  let encodeMs = 0
  let native = 0
  let wait = 0
  const t0 = now()
  for (const batch of batches) {
    let a = now()
    const enc = encode(batch)
    encodeMs += now() - a
    a = now()
    const ack = put(store, enc)
    native += now() - a
    if (ack !== 0) {
      a = now()
      await store.settle(ack)
      wait += now() - a
    }
  }
  return { encode: encodeMs, native, wait, loop: now() - t0 }
}

const ingest = await withBackend({}, async (b) => {
  const parts = await timedPuts(b.store, batches, encodeRecords, (s, json) => s.putJson(json))
  const a = now()
  await b.flush()
  return { ...parts, flush: now() - a }
})

console.log(`ingest, ${N} set-A records in 1000-record putBatch calls, PersistingBackend WAL off (µs per record):`)
console.log(`  JSON.stringify alone          ${us(stringifyMs, N)}`)
console.log(`  validate + JSON.stringify     ${us(ingest.encode, N)}`)
console.log(`  native putJson (copy + scan)  ${us(ingest.native, N)}`)
console.log(`  waiting on back-pressure      ${us(ingest.wait, N)}`)
console.log(`  whole loop                    ${us(ingest.loop, N)}  (${Math.round((N / ingest.loop) * 1000)} rec/s)`)
console.log(`  final flush of what was left  ${us(ingest.flush, N)}`)

// Set B: number arrays in `vector`, which cross as one float buffer beside the other fields' JSON.
const vectorN = Math.min(N, 100_000)
const vectorBatches = toBatches(makeRecords('B', vectorN), 1000)
for (const b of vectorBatches.slice(0, 20)) encodeBatch(b)
const vectors = await withBackend({}, (b) =>
  timedPuts(b.store, vectorBatches, (batch) => encodeBatch(batch), (s, enc) => s.putJsonVectors(enc.json, enc.vectors)),
)
console.log(`vectors, ${vectorN} set-B records (128 numbers in \`vector\`) in 1000-record calls, WAL off (µs per record):`)
console.log(`  validate + encode (floats + JSON)  ${us(vectors.encode, vectorN)}`)
console.log(`  native putJsonVectors             ${us(vectors.native, vectorN)}`)
console.log(`  waiting on back-pressure          ${us(vectors.wait, vectorN)}`)
console.log(`  whole loop                        ${us(vectors.loop, vectorN)}  (${Math.round((vectorN / vectors.loop) * 1000)} rec/s)`)

const single = Math.min(N, 100_000)
for (const [label, options] of [
  ['WAL off', {}],
  ['WAL 1.0 s', { enableWal: true, walSyncInterval: 1 }],
]) {
  await withBackend(options, async (b) => {
    const c0 = cpuUs()
    const t0 = now()
    for (let i = 0; i < single; i++) await b.put(records[i])
    const ms = now() - t0
    console.log(`single await put() loop, ${label}: ${us(ms, single)} µs per put (${Math.round((single / ms) * 1000)}/s), CPU ${us((cpuUs() - c0) / 1000, single)} µs per put`)
  })
}

const durableN = Math.min(N, 40_000)
for (const flushThreshold of [1000, 1_000_000]) {
  await withBackend({ enableWal: true, walSyncInterval: 0, flushThreshold }, async (b) => {
    let next = 0
    const c0 = cpuUs()
    const t0 = now()
    await Promise.all(Array.from({ length: 64 }, async () => {
      while (next < durableN) await b.put(records[next++])
    }))
    const ms = now() - t0
    const s = await b.stats()
    console.log(
      `durable, 64 producers, walSyncInterval 0, flushThreshold ${flushThreshold}: ${Math.round((durableN / ms) * 1000)} acks/s, ` +
        `${(durableN / s.walFsyncs).toFixed(1)} records per fsync, ${Math.round((s.walFsyncs / ms) * 1000)} fsyncs/s, ` +
        `CPU ${us((cpuUs() - c0) / 1000, durableN)} µs per ack (all threads)`,
    )
  })
}

// Durable batches (walSyncInterval 0): each 1000-record putBatch waits for the fdatasync that
// covers it, while flushes to Lance run on the other core and fsync their own files. Run with
// flushes every 1000 records (the default) and with none until the end, to see what flushes cost.
/** Each metric's sum over its label sets, from one exposition (histograms: `_sum` and `_count`). */
async function metricSums(names) {
  const text = await metrics()
  return names.map((name) => {
    let total = 0
    for (const m of text.matchAll(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'gm'))) total += Number(m[1])
    return total
  })
}
const durableBatches = batches.slice(0, 100)
const durableBatchN = durableBatches.reduce((n, b) => n + b.length, 0)
for (const flushThreshold of [1000, 1_000_000]) {
  await withBackend({ enableWal: true, walSyncInterval: 0, flushThreshold, enableMetrics: true }, async (b) => {
    const names = ['persisting_wal_fsync_duration_seconds_sum', 'persisting_wal_fsync_duration_seconds_count', 'persisting_flush_duration_seconds_sum', 'persisting_flush_duration_seconds_count']
    const before = await metricSums(names)
    const parts = await timedPuts(b.store, durableBatches, encodeRecords, (s, json) => s.putJson(json))
    const [fsyncS, fsyncs, flushS, flushes] = (await metricSums(names)).map((v, i) => v - before[i])
    const a = now()
    await b.flush()
    const finalFlush = now() - a
    const perBatch = (ms) => (ms / durableBatches.length).toFixed(3)
    console.log(`durable putBatch, ${durableBatchN} set-A records in 1000-record calls, walSyncInterval 0, flushThreshold ${flushThreshold} (ms per call):`)
    console.log(`  validate + JSON.stringify       ${perBatch(parts.encode)}`)
    console.log(`  native putJson (WAL frame in)   ${perBatch(parts.native)}`)
    console.log(`  waiting for the fdatasync       ${perBatch(parts.wait)}`)
    console.log(`    of which fdatasync itself     ${perBatch(fsyncS * 1000)}  (${fsyncs} fdatasyncs, ${(fsyncS * 1e6 / Math.max(fsyncs, 1)).toFixed(0)} µs each)`)
    console.log(`  whole loop                      ${perBatch(parts.loop)}  (${Math.round((durableBatchN / parts.loop) * 1000)} rec/s)`)
    console.log(`  Lance flushes meanwhile         ${flushes} taking ${(flushS * 1000).toFixed(0)} ms in all (other core); final flush ${finalFlush.toFixed(1)} ms`)
  })
}
