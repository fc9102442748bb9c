// Scale-out on one S3-compatible store (s3s-fs on loopback): total ingestion with 1, 2 and 4
// writer processes (rank/worldSize over 4 buckets, WAL on each writer's disk), and how long a
// record takes from its writer's flush to a tailing reader in another process.
//   npm run bench:scale-out -- [--records=200000] [--no-write]   (node benches/scale-out.js)
// Writes its section of docs/benchmarks.md (kept when benches/run.js rewrites the rest).
import { spawn } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { createInterface } from 'node:readline'
import { s3ServerBinary, startS3Server } from '../scripts/s3-server.mjs'
import { replaceSection } from './lib/sections.js'
import { rmrf, sleep, tmpDir } from './lib/util.js'

const ROOT = path.resolve(import.meta.dirname, '..')
const arg = (name, dflt) => process.argv.find((a) => a.startsWith(`--${name}=`))?.split('=')[1] ?? dflt
const RECORDS = Number(arg('records', 200_000))
const WRITE = !process.argv.includes('--no-write')
const CHILD = path.join(ROOT, 'benches', 'scale-out-child.js')
const BUILD = process.env.PERSISTING_NATIVE_LIBRARY_PATH ? `addon ${path.relative(ROOT, process.env.PERSISTING_NATIVE_LIBRARY_PATH)}` : 'the dev-profile addon the tests use'


const server = s3ServerBinary()
if (!server) {
  console.error('the S3 server is not built: bash scripts/s3-server.sh --build')
  process.exit(1)
}

/** Runs a child and resolves with its last stdout line parsed as JSON (and every line via onLine). */
function child(args, onLine = () => {}) {
  const c = spawn(process.execPath, [CHILD, JSON.stringify(args)], { stdio: ['ignore', 'pipe', 'inherit'], env: process.env })
  let last = null
  createInterface({ input: c.stdout }).on('line', (l) => {
    onLine(l)
    if (l.startsWith('{')) last = JSON.parse(l)
  })
  const done = new Promise((resolve, reject) => c.on('exit', (code) => (code === 0 ? resolve(last) : reject(new Error(`child ${args.role} exited ${code}`)))))
  return { c, done }
}

const q = (xs, p) => xs[Math.min(xs.length - 1, Math.floor(p * xs.length))]
const fmtRate = (r) => (r >= 1e6 ? `${(r / 1e6).toFixed(2)}M` : `${Math.round(r / 1000)}k`)

async function ingestRun(writers, storageOptions) {
  const storagePath = `s3://bench/ingest-${writers}-${Date.now()}`
  const walRoot = tmpDir('scale-wal')
  const each = Math.floor(RECORDS / writers)
  const runs = Array.from({ length: writers }, (_, rank) =>
    child({ role: 'writer', storagePath, storageOptions, rank, worldSize: writers, count: each, walPath: path.join(walRoot, `w${rank}`) }).done,
  )
  const results = await Promise.all(runs)
  // From the first writer opening its queue to the last one's end of shutdown (final flush).
  const secs = (Math.max(...results.map((r) => r.end)) - Math.min(...results.map((r) => r.start))) / 1000
  rmrf(walRoot)
  return { writers, records: each * writers, seconds: secs, rate: (each * writers) / secs }
}

async function latencyRun(storageOptions) {
  const storagePath = `s3://bench/tail-${Date.now()}`
  const walRoot = tmpDir('scale-wal')
  // The reader first, caught up on an empty topic; then the writer puts one record per 100 ms and flushes it.
  const lat = []
  let ready
  const readerReady = new Promise((r) => (ready = r))
  const reader = child({ role: 'reader', storagePath, storageOptions }, (l) => {
    if (l === 'ready') ready()
    if (l.startsWith('lat ')) lat.push(Number(l.slice(4)))
  })
  await readerReady
  await child({ role: 'ticker', storagePath, storageOptions, count: 60, walPath: path.join(walRoot, 't') }).done
  const deadline = Date.now() + 10_000
  while (lat.length < 60 && Date.now() < deadline) await sleep(50)
  reader.c.kill('SIGTERM')
  rmrf(walRoot)
  lat.sort((a, b) => a - b)
  return { samples: lat.length, p50: q(lat, 0.5), p90: q(lat, 0.9), p99: q(lat, 0.99), max: lat[lat.length - 1] }
}

async function main() {
  const dir = tmpDir('scale-s3')
  const s3 = await startS3Server(server, dir, 'bench')
  const { storageOptions } = s3
  try {
    const ingest = []
    // Three runs per writer count (this shared machine is noisy); the table shows the median.
    for (const writers of [1, 2, 4]) {
      const runs = []
      for (let i = 0; i < 3; i++) runs.push(await ingestRun(writers, storageOptions))
      runs.sort((a, b) => a.rate - b.rate)
      const r = { ...runs[1], runRates: runs.map((x) => Math.round(x.rate)) }
      console.log(`${writers} writer(s): ${r.records} records in ${r.seconds.toFixed(2)} s = ${fmtRate(r.rate)} rec/s (runs: ${r.runRates.map(fmtRate).join(', ')})`)
      ingest.push(r)
    }
    const lat = await latencyRun(storageOptions)
    console.log(`remote tailing reader: p50 ${lat.p50.toFixed(0)} ms, p99 ${lat.p99.toFixed(0)} ms over ${lat.samples} records`)
    const base = ingest[0].rate
    const md = [
      '## 7. Scale-out: writer processes on one object store',
      '',
      `\`npm run bench:scale-out\` (${new Date().toISOString().slice(0, 10)}, ${os.cpus().length} cores, ${BUILD}): an S3-compatible server on loopback (s3s-fs as`,
      'setup builds it for the tests, at opt-level 1; objects on the local disk), a topic of 4 buckets, PersistingBackend with the WAL on each writer\'s disk',
      '(`walSyncInterval: 1`), `putBatch` of 1000 records of set A, writers owning `rank`/`worldSize`',
      'shares; the time runs from the first writer opening its queue (bucket leases included) to the',
      'end of the last one\'s final flush. Every writer process runs on this one machine (and so does',
      'the server), so the rate shows the protocol\'s overhead and the contention for these cores,',
      'not what separate hosts would add up to.',
      '',
      '| writer processes | records | seconds | total rec/s (median of 3) | the 3 runs | ÷ 1 writer |',
      '| ---: | ---: | ---: | ---: | ---: | ---: |',
      ...ingest.map((r) => `| ${r.writers} | ${r.records} | ${r.seconds.toFixed(2)} | ${fmtRate(r.rate)} | ${r.runRates.map(fmtRate).join(' / ')} | ${(r.rate / base).toFixed(2)}× |`),
      '',
      'A tailing reader in another process (`readQueue` + `getStream({ block: true })`) and a writer',
      'that puts one record and flushes it every 100 ms: time from the `put` call to the reader',
      'yielding the record (the flush to the store, then the reader\'s next look for a new version,',
      'which backs off up to 500 ms on an object store while idle).',
      '',
      '| samples | p50 | p90 | p99 | max |',
      '| ---: | ---: | ---: | ---: | ---: |',
      `| ${lat.samples} | ${lat.p50.toFixed(0)} ms | ${lat.p90.toFixed(0)} ms | ${lat.p99.toFixed(0)} ms | ${lat.max.toFixed(0)} ms |`,
      '',
    ].join('\n')
    if (WRITE) {
      const file = path.join(ROOT, 'docs', 'benchmarks.md')
      fs.writeFileSync(file, replaceSection(fs.readFileSync(file, 'utf8'), 'scale-out', md))
      console.log('wrote the scale-out section of docs/benchmarks.md')
    } else console.log(md)
  } finally {
    await s3.stop()
    rmrf(dir)
  }
}

await main()
