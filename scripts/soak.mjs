#!/usr/bin/env node
// Soak test: ingests into one PersistingBackend (WAL on, zstd) for a while with random flushes,
// compactions, schema evolutions (new fields, int -> float) and concurrent blocking reader
// streams; samples RSS; then reopens and checks every record. Prints one summary line.
//   node scripts/soak.mjs --minutes 10            (npm run test:soak -- --minutes 10)
//   options: --seconds S, --max-rss-mb M (default 1536), --max-growth-mb G (default 256),
//            --seed N, --dir D (kept afterwards; default a temp dir that is removed)
// Exit code 0 when everything read back and memory stayed bounded, 1 otherwise.
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { PersistingBackend } from '../dist/backends/persisting.js'

const args = process.argv.slice(2)
const arg = (name, dflt) => {
  const i = args.indexOf(`--${name}`)
  return i >= 0 ? args[i + 1] : dflt
}
const seconds = arg('seconds') !== undefined ? Number(arg('seconds')) : Number(arg('minutes', 1)) * 60
const maxRssMb = Number(arg('max-rss-mb', 1536))
const maxGrowthMb = Number(arg('max-growth-mb', 256))
let seed = Number(arg('seed', Date.now() % 1e9)) >>> 0
const keepDir = arg('dir')
if (!(seconds > 0)) {
  console.error('soak: --minutes or --seconds must be a positive number')
  process.exit(2)
}

// mulberry32: the run is reproducible from --seed, apart from thread timing.
const rand = () => {
  seed = (seed + 0x6d2b79f5) >>> 0
  let t = seed
  t = Math.imul(t ^ (t >>> 15), t | 1)
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296
}
const randInt = (lo, hi) => lo + Math.floor(rand() * (hi - lo + 1))
const initialSeed = seed

const dir = keepDir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'persisting-soak-'))
const options = {
  bucketId: 0,
  storagePath: dir,
  enableWal: true,
  walSyncInterval: 0.01,
  compression: 'zstd',
  flushThreshold: 20_000,
  compactionThreshold: 12,
  maxWalSize: 8 * 1024 * 1024,
}

// Schema epochs: epoch k adds field `e<k>`; `n` is an integer until the float epoch.
let epoch = 0
let floatFrom = Infinity // first seq written with a fractional `n`
const epochs = [] // [firstSeq, epoch] whenever the epoch changes
const expected = (seq, ep) => {
  const r = { seq, n: seq >= floatFrom ? seq + 0.5 : seq, p: `payload-${seq % 97}-`.repeat(1 + (seq % 5)) }
  for (let k = 1; k <= ep; k++) r[`e${k}`] = `v${k}-${seq}`
  return r
}
const epochOf = (seq) => {
  let ep = 0
  for (const [first, e] of epochs) if (seq >= first) ep = e
  return ep
}

const failures = []
const fail = (msg) => {
  if (failures.length < 20) failures.push(msg)
}

const rss = [] // [secondsSinceStart, MiB]
const t0 = performance.now()
const now = () => (performance.now() - t0) / 1000
const sampler = setInterval(() => rss.push([now(), process.memoryUsage().rss / 2 ** 20]), 200)

let b = new PersistingBackend(options)
let written = 0
const counts = { flushes: 0, compactions: 0, evolutions: 0, streams: 0, streamedRows: 0, reopens: 0 }
let stopping = false

/** A blocking stream from a random offset that checks order and content as it reads. */
async function reader(id) {
  while (!stopping) {
    const start = randInt(0, written)
    const limit = randInt(1, 20_000)
    let next = start
    const backend = b
    try {
      for await (const r of backend.getStream(start, limit, true)) {
        if (r.seq !== next) {
          fail(`reader ${id}: expected seq ${next}, got ${r.seq} (stream from ${start})`)
          break
        }
        next++
        counts.streamedRows++
      }
    } catch (e) {
      if (!stopping && backend === b) fail(`reader ${id}: ${e.code ?? ''} ${e.message}`)
    }
    if (backend === b) counts.streams++
    // a reopen closes the old backend, which ends its streams: start again on the new one
    await new Promise((r) => setTimeout(r, 5))
  }
}

async function producer() {
  const deadline = seconds
  while (now() < deadline) {
    const roll = rand()
    if (roll < 0.004 && epoch < 12) {
      epoch++
      epochs.push([written, epoch])
      counts.evolutions++
    } else if (floatFrom === Infinity && now() > deadline / 3) {
      floatFrom = written // from here on `n` is fractional: the column widens to float
    } else if (roll < 0.02) {
      await b.flush()
      counts.flushes++
    } else if (roll < 0.023) {
      await b.compact()
      counts.compactions++
    } else if (roll < 0.0235) {
      // A reopen in the middle: recovery from the WAL plus whatever Lance holds.
      await b.close()
      b = new PersistingBackend(options)
      if (b.totalCount() !== written) fail(`reopen: totalCount ${b.totalCount()}, wrote ${written}`)
      counts.reopens++
    } else {
      const n = randInt(1, 400)
      const batch = Array.from({ length: n }, (_, i) => expected(written + i, epoch))
      if (n === 1) await b.put(batch[0])
      else await b.putBatch(batch)
      written += n
    }
  }
}

let ok = true
try {
  const readers = Array.from({ length: 3 }, (_, i) => reader(i))
  await producer()
  stopping = true
  await b.close()
  await Promise.all(readers)

  // Read everything back from a fresh open and compare every record.
  b = new PersistingBackend(options)
  if (b.totalCount() !== written) fail(`after reopen: totalCount ${b.totalCount()}, wrote ${written}`)
  let seq = 0
  for await (const r of b.getStream(0, null, false)) {
    const want = expected(seq, epochOf(seq))
    for (const [k, v] of Object.entries(r)) {
      const w = want[k] ?? null
      if (v !== w) {
        fail(`record ${seq}: field ${k} read ${JSON.stringify(v)}, wrote ${JSON.stringify(w)}`)
        break
      }
    }
    for (const k of Object.keys(want)) if (!(k in r)) fail(`record ${seq}: field ${k} missing`)
    seq++
  }
  if (seq !== written) fail(`read back ${seq} records, wrote ${written}`)
  await b.close()
} catch (e) {
  fail(`unexpected ${e?.code ?? ''} ${e?.stack ?? e}`)
}
clearInterval(sampler)

const maxRss = Math.max(...rss.map(([, m]) => m))
// Growth over the second half: median of its last tenth minus median of its first tenth.
const half = rss.filter(([t]) => t >= seconds / 2 && t <= seconds)
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0
const tenth = Math.max(1, Math.floor(half.length / 10))
const growth = half.length >= 4 ? median(half.slice(-tenth).map(([, m]) => m)) - median(half.slice(0, tenth).map(([, m]) => m)) : 0
if (maxRss > maxRssMb) fail(`max RSS ${maxRss.toFixed(0)} MiB over the limit of ${maxRssMb} MiB`)
if (growth > maxGrowthMb) fail(`RSS grew ${growth.toFixed(0)} MiB over the second half (limit ${maxGrowthMb} MiB)`)
ok = failures.length === 0

console.log(
  `soak: ${ok ? 'ok' : 'FAILED'} seconds=${seconds} seed=${initialSeed} records=${written} ` +
    `rate=${Math.round(written / seconds)}/s flushes=${counts.flushes} compactions=${counts.compactions} ` +
    `evolutions=${counts.evolutions} float_from=${floatFrom === Infinity ? 'never' : floatFrom} reopens=${counts.reopens} ` +
    `streams=${counts.streams} streamed_rows=${counts.streamedRows} max_rss_mb=${maxRss.toFixed(0)} ` +
    `second_half_growth_mb=${growth.toFixed(1)}`,
)
for (const f of failures) console.error(`soak: ${f}`)
if (!keepDir) fs.rmSync(dir, { recursive: true, force: true })
process.exit(ok ? 0 : 1)
