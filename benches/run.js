#!/usr/bin/env node
// Benchmarks for persisting, all in one run, on the same generated records and batch sizes:
//   node benches/run.js            full run (~10-15 min on 2 cores)
//   node benches/run.js --quick    minute-scale run
//   node benches/run.js --only=ingest,peers,durable,read,latency,physical   (or 1..6)
//   --no-write   print only, do not rewrite docs/benchmarks.md and docs/benchmarks.svg
//   --no-install never apt-get install redis-server
//   --report-from=<results.json>  rebuild the report from a saved run (written to os.tmpdir())
// Each case runs in its own child process (benches/case.js) so peak RSS is per contender.
// This is measurement only: nothing here asserts a speed.
import { spawn, spawnSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { ensureRedisServer, startRedis } from './lib/redis.js'
import { pkgVersion, rmrf, tmpDir } from './lib/util.js'
import { buildMarkdown, buildSvg, fmtRate, fmtMs, fmtMB } from './lib/report.js'

const HERE = path.dirname(fileURLToPath(import.meta.url))
const ROOT = path.resolve(HERE, '..')

// ---------------------------------------------------------------------------------------------
// Command line and plan.
const argv = process.argv.slice(2)
const flag = (name) => argv.includes(`--${name}`)
const opt = (name) => argv.find((a) => a.startsWith(`--${name}=`))?.split('=')[1]
const QUICK = flag('quick')
const SECTION_NAMES = { 1: 'ingest', 2: 'peers', 3: 'durable', 4: 'read', 5: 'latency', 6: 'physical' }
const onlyArg = opt('only')
const only = onlyArg
  ? new Set(onlyArg.split(',').map((s) => SECTION_NAMES[s.trim()] ?? s.trim()))
  : null
for (const s of only ?? []) {
  if (!Object.values(SECTION_NAMES).includes(s)) {
    console.error(`unknown section '${s}'; sections: ${Object.values(SECTION_NAMES).join(', ')} (or 1-6)`)
    process.exit(2)
  }
}
const want = (s) => !only || only.has(s)
const WRITE = !flag('no-write') && !only

const PLAN = QUICK
  ? {
      mode: 'quick',
      timeCapSec: 1.5,
      repeats: 1,
      countsA: { 1: 20_000, 100: 30_000, 1000: 100_000, 10000: 100_000 },
      countsB: { 100: 5_000, 1000: 20_000 },
      variantBatches: [1000],
      rssStream: 100_000,
      durable: { records: 20_000, timeCapSec: 3 },
      readRecords: 200_000,
      readChunk: 10_000,
      latency: { n: 300, gapMs: 1 },
      json: { recordsA: 100_000, recordsB: 20_000 },
      disk: { fsyncSecs: 1, seqMiB: 128 },
      caseTimeoutSec: 60,
    }
  : {
      mode: 'full',
      timeCapSec: 8,
      // Set-A ingest cases at the headline batch sizes (ours and peers alike) run this many
      // times and report the median run: this shared machine has second-long disk stalls.
      repeats: 3,
      countsA: { 1: 100_000, 100: 200_000, 1000: 300_000, 10000: 500_000 },
      countsB: { 100: 20_000, 1000: 100_000, 10000: 100_000 },
      variantBatches: [1000, 10000],
      rssStream: 1_000_000,
      durable: { records: 200_000, timeCapSec: 8 },
      readRecords: 1_000_000,
      readChunk: 10_000,
      latency: { n: 2000, gapMs: 1 },
      json: { recordsA: 300_000, recordsB: 50_000 },
      disk: { fsyncSecs: 4, seqMiB: 512 },
      caseTimeoutSec: 150,
    }
const BATCHES_A = Object.keys(PLAN.countsA).map(Number)
const BATCHES_B = Object.keys(PLAN.countsB).map(Number)
// (the report takes its batch sizes from the saved plan)

// Our configurations (section 1) and the peers (section 2), by key.
const OURS = {
  memory: { label: 'MemoryBackend', contender: 'memory', options: {} },
  lance: { label: 'LanceBackend', contender: 'lance', options: {} },
  'p-off': { label: 'Persisting WAL off', contender: 'persisting', options: {} },
  'p-1.0': { label: 'Persisting WAL sync 1.0 s', contender: 'persisting', options: { enableWal: true, walSyncInterval: 1.0 } },
  'p-0.1': { label: 'Persisting WAL sync 0.1 s', contender: 'persisting', options: { enableWal: true, walSyncInterval: 0.1 } },
  'p-0': { label: 'Persisting WAL sync 0 (fsync per ack)', contender: 'persisting', options: { enableWal: true, walSyncInterval: 0 } },
}
const VARIANTS = {
  'p-off-zstd': { label: 'Persisting WAL off, zstd', contender: 'persisting', options: { compression: 'zstd' } },
  'p-off-lz4': { label: 'Persisting WAL off, lz4', contender: 'persisting', options: { compression: 'lz4' } },
  'p-off-snappy': { label: 'Persisting WAL off, snappy', contender: 'persisting', options: { compression: 'snappy' } },
  'p-0.1-zstd': { label: 'Persisting WAL 0.1 s, zstd', contender: 'persisting', options: { enableWal: true, walSyncInterval: 0.1, compression: 'zstd' } },
  'p-0.1-lz4': { label: 'Persisting WAL 0.1 s, lz4', contender: 'persisting', options: { enableWal: true, walSyncInterval: 0.1, compression: 'lz4' } },
  'p-0.1-snappy': { label: 'Persisting WAL 0.1 s, snappy', contender: 'persisting', options: { enableWal: true, walSyncInterval: 0.1, compression: 'snappy' } },
  'p-off-ft100k': { label: 'Persisting WAL off, flushThreshold 100k', contender: 'persisting', options: { flushThreshold: 100_000 } },
}
const OURS_B = ['memory', 'lance', 'p-off', 'p-0.1', 'p-0']
const PEERS = {
  lancedb: { short: '@lancedb/lancedb', label: '@lancedb/lancedb table.add (no fsync)', contender: 'lancedb', probe: 'lancedb', options: {} },
  'sqlite-normal': { short: 'better-sqlite3 NORMAL', label: 'better-sqlite3 WAL, synchronous=NORMAL', contender: 'sqlite', probe: 'sqlite', options: { synchronous: 'NORMAL' } },
  'sqlite-full': { short: 'better-sqlite3 FULL', label: 'better-sqlite3 WAL, synchronous=FULL', contender: 'sqlite', probe: 'sqlite', options: { synchronous: 'FULL' } },
  lmdb: { short: 'lmdb', label: 'lmdb put + await flushed', contender: 'lmdb', probe: 'lmdb', options: {} },
  level: { short: 'classic-level', label: 'classic-level batch, sync: true', contender: 'level', probe: 'level', options: {} },
}
// Which of our configurations is the like-for-like durability match for each peer.
const MATCH = { lancedb: 'p-off', 'sqlite-normal': 'p-0.1', 'sqlite-full': 'p-0', lmdb: 'p-0', level: 'p-0' }

/** Batch sizes whose set-A ingest cases are repeated (median run kept). */
const REPEATED_BATCHES = new Set([1, 1000])

/** Runs an ingest case `PLAN.repeats` times when it is a headline case; keeps the median run. */
async function runIngest(args, label) {
  const n = args.set === 'A' && REPEATED_BATCHES.has(args.batch) ? PLAN.repeats : 1
  const runs = []
  for (let i = 0; i < n; i++) runs.push(await runCase(args, n > 1 ? `${label} (run ${i + 1}/${n})` : label))
  const ok = runs.filter((r) => r && !r.error && Number.isFinite(r.recPerSec))
  if (ok.length === 0 || n === 1) return runs[runs.length - 1]
  ok.sort((a, b) => a.recPerSec - b.recPerSec)
  return { ...ok[(ok.length - 1) >> 1], runRates: runs.map((r) => r?.recPerSec ?? null) }
}

// ---------------------------------------------------------------------------------------------
// Child processes.
let caseNo = 0
function runCase(args, label, timeoutSec = PLAN.caseTimeoutSec) {
  caseNo++
  const started = Date.now()
  process.stdout.write(`  [${String(caseNo).padStart(3)}] ${label} ... `)
  const work = tmpDir('case')
  cleanup.dirs.add(work)
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [path.join(HERE, 'case.js'), JSON.stringify({ ...args, workDir: work })], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    cleanup.child = child
    let out = ''
    let err = ''
    child.stdout.on('data', (d) => (out += d))
    child.stderr.on('data', (d) => {
      err += d
      if (err.length > 20_000) err = err.slice(-10_000)
    })
    let timedOut = false
    const timer = setTimeout(() => {
      timedOut = true
      child.kill('SIGKILL')
    }, timeoutSec * 1000)
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      rmrf(work)
      cleanup.dirs.delete(work)
      cleanup.child = null
      const secs = (Date.now() - started) / 1000
      const line = out.split('\n').reverse().find((l) => l.startsWith('RESULT '))
      let res
      if (timedOut) res = { error: `timed out after ${timeoutSec} s` }
      else if (!line) res = { error: `no result (exit ${code ?? signal}): ${err.trim().split('\n').slice(-3).join(' | ')}` }
      else res = JSON.parse(line.slice(7))
      res.wallSecs = secs
      cpuAccount.children += res.cpuSec ?? 0
      if (res.error) {
        const short = res.error.split('\n')[0]
        console.log(`ERROR ${short} (${secs.toFixed(1)} s)`)
        errors.push(`${label}: ${short}`)
      } else {
        const headline = res.recPerSec != null ? `${fmtRate(res.recPerSec)} rec/s` : res.acksPerSec != null ? `${fmtRate(res.acksPerSec)} acks/s` : res.p50Ms != null ? `p50 ${fmtMs(res.p50Ms)}` : 'ok'
        console.log(`${headline}${res.capped ? ' (time-capped)' : ''}, RSS ${fmtMB(res.maxRssMB)} (${secs.toFixed(1)} s)`)
      }
      resolve(res)
    })
  })
}

// What to undo if the run is interrupted (Ctrl-C): the running case, temp dirs, redis-server.
const cleanup = { child: null, dirs: new Set(), redis: null }
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => {
    console.log(`\n${sig}: stopping the running case, redis-server and removing temp dirs`)
    cleanup.child?.kill('SIGKILL')
    cleanup.redis?.kill()
    for (const d of cleanup.dirs) rmrf(d)
    process.exit(130)
  })
}

const errors = []
const skipped = []
const results = {
  plan: PLAN,
  ingest: {}, // key -> set -> batch -> result
  peers: {},
  variants: {},
  baseline: {},
  rssStream: null,
  durable: {},
  read: {},
  readPrep: {},
  latency: {},
  json: {},
  disk: null,
  peerStatus: {},
  redis: null,
}

function put(obj, key, set, batch, res) {
  obj[key] ??= {}
  obj[key][set] ??= {}
  obj[key][set][batch] = res
}

// ---------------------------------------------------------------------------------------------
function sh(cmd) {
  const r = spawnSync('sh', ['-c', cmd], { encoding: 'utf8' })
  return (r.stdout || '').trim()
}

/** Busy and total CPU seconds of the whole machine so far (from /proc/stat). */
const CLK_TCK = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout) || 100
function machineCpu() {
  try {
    const f = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number)
    const total = f.reduce((a, b) => a + b, 0)
    const idle = f[3] + (f[4] ?? 0)
    return { busy: (total - idle) / CLK_TCK, total: total / CLK_TCK }
  } catch {
    return null
  }
}
/** CPU seconds used so far by a process (all its threads), from /proc/<pid>/stat. */
function procCpu(pid) {
  try {
    const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ')
    return (Number(f[11]) + Number(f[12])) / CLK_TCK
  } catch {
    return 0
  }
}
const cpuAccount = { children: 0 }

/** Fraction of all cores busy over `ms` (from /proc/stat), measured before anything of ours runs. */
async function cpuBusy(ms) {
  const read = () => {
    try {
      const f = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number)
      return { idle: f[3] + (f[4] ?? 0), total: f.reduce((a, b) => a + b, 0) }
    } catch {
      return null
    }
  }
  const a = read()
  await new Promise((r) => setTimeout(r, ms))
  const b = read()
  if (!a || !b || b.total === a.total) return null
  return 1 - (b.idle - a.idle) / (b.total - a.total)
}

function machine() {
  const cpu = /model name\s*:\s*(.*)/.exec(fs.readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? os.cpus()[0]?.model
  return {
    nproc: sh('nproc') || String(os.availableParallelism?.() ?? os.cpus().length),
    free: sh('free -g'),
    cpu,
    kernel: os.release(),
    node: process.version,
    build: process.env.PERSISTING_BENCH_BUILD ?? null,
    tmpFs: sh(`df -hT ${os.tmpdir()} | tail -1`),
    versions: {
      persisting: pkgVersion(ROOT, '..') ?? JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')).version,
      '@lancedb/lancedb': pkgVersion(ROOT, '@lancedb/lancedb'),
      'apache-arrow': pkgVersion(ROOT, 'apache-arrow'),
      'better-sqlite3': pkgVersion(ROOT, 'better-sqlite3'),
      lmdb: pkgVersion(ROOT, 'lmdb'),
      'classic-level': pkgVersion(ROOT, 'classic-level'),
    },
  }
}

// ---------------------------------------------------------------------------------------------
function writeReport(res) {
  const md = buildMarkdown(res, { OURS, VARIANTS, PEERS, MATCH, OURS_B })
  console.log('\n' + md.markdown)
  if (WRITE) {
    fs.writeFileSync(path.join(ROOT, 'docs', 'benchmarks.md'), md.markdown)
    fs.writeFileSync(path.join(ROOT, 'docs', 'benchmarks.svg'), buildSvg(res))
    console.log('wrote docs/benchmarks.md and docs/benchmarks.svg')
  } else {
    console.log('(docs/benchmarks.md not rewritten: --only or --no-write given)')
  }
}

async function main() {
  // --report-from=<results.json>: rebuild the report from a saved run (no measuring).
  const from = opt('report-from')
  if (from) {
    writeReport(JSON.parse(fs.readFileSync(from, 'utf8')))
    return
  }
  const t0 = Date.now()
  const needsOurs = ['ingest', 'durable', 'read', 'latency'].some(want)
  if (needsOurs && !fs.existsSync(path.join(ROOT, 'dist', 'index.js'))) {
    console.error('dist/index.js is missing: run `npm run build:ts` (and the native build) first, or `npm run bench`.')
    process.exit(1)
  }
  const info = machine()
  results.machine = info
  results.command = `node benches/run.js${argv.length ? ' ' + argv.join(' ') : ''}`
  results.date = new Date().toISOString()
  results.loadAvgStart = os.loadavg()
  results.cpuBusyStart = await cpuBusy(1000)
  const cpuAtStart = machineCpu()
  const wallAtStart = Date.now()
  console.log(`persisting benchmarks (${PLAN.mode} mode) — ${info.cpu}, ${info.nproc} cores, node ${info.node}`)
  console.log(`command: ${results.command}`)

  // Which peers load here at all.
  const probe = await runCase({ kind: 'probe' }, 'probing peers')
  results.peerStatus = probe.peers ?? {}
  for (const [name, st] of Object.entries(results.peerStatus)) {
    if (!st.ok) {
      const msg = `peer ${name} skipped: cannot be loaded (${st.error})`
      console.log(`  ${msg}`)
      skipped.push(msg)
    }
  }
  const peerOk = (p) => results.peerStatus[PEERS[p]?.probe ?? p]?.ok

  // Section 6 first: the physical references the other ratios are taken against.
  if (want('physical')) {
    console.log('\n6. physical references')
    for (const set of ['A', 'B']) {
      results.json[set] = await runCase(
        { kind: 'json', set, records: set === 'A' ? PLAN.json.recordsA : PLAN.json.recordsB, batches: set === 'A' ? BATCHES_A : BATCHES_B },
        `JSON.stringify / JSON.parse, set ${set}`,
      )
    }
    results.disk = await runCase({ kind: 'disk', ...PLAN.disk }, 'disk: append+fdatasync, append+fsync, sequential write')
  }

  // Section 2: peers.
  if (want('peers')) {
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

  // Section 1: ours.
  if (want('ingest')) {
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
      const c = OURS[key]
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

  // Redis for sections 3 and 5.
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

  try {
    if (want('durable')) {
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

    if (want('read')) {
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

    if (want('latency')) {
      console.log(`\n5. producer -> blocking consumer latency (one process, ${PLAN.latency.n} records, ${PLAN.latency.gapMs} ms gap)`)
      if (redis) {
        // A blocking consumer is about delivery, not durability: Redis' default everysec here.
        const { RespClient } = await import('./lib/redis.js')
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
  } finally {
    if (redis) cpuAccount.redis = procCpu(redis.pid)
    if (redis) await redis.stop()
    rmrf(redisDir)
  }

  results.loadAvgEnd = os.loadavg()
  // CPU the rest of the machine used while we measured: all busy time minus ours (this runner,
  // its cases and our redis-server). Anything large means the figures were taken under contention.
  const cpuAtEnd = machineCpu()
  if (cpuAtStart && cpuAtEnd) {
    const own = process.cpuUsage()
    const ours = (own.user + own.system) / 1e6 + cpuAccount.children + (cpuAccount.redis ?? 0)
    const capacity = cpuAtEnd.total - cpuAtStart.total
    results.cpuOthers = Math.max(0, (cpuAtEnd.busy - cpuAtStart.busy - ours) / capacity)
    results.cpuOurs = ours / capacity
    void wallAtStart
  }
  results.errors = errors
  results.skipped = skipped
  results.totalSecs = (Date.now() - t0) / 1000

  const saved = path.join(os.tmpdir(), `pst-bench-results-${PLAN.mode}${only ? '-' + [...only].join('-') : ''}.json`)
  fs.writeFileSync(saved, JSON.stringify(results, null, 1))
  writeReport(results)
  console.log(`total ${(results.totalSecs / 60).toFixed(1)} min; raw results in ${saved}`)
}

await main()
