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
// The plan, case runner, machine probes and the sections themselves are in lib/run-*.js.
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { keepSections } from './lib/sections.js'
import { fileURLToPath } from 'node:url'
import { rmrf } from './lib/util.js'
import { buildMarkdown, buildSvg } from './lib/report.js'
import { argv, MATCH, only, opt, OURS, OURS_B, OURS_TYPED, PEERS, PLAN, VARIANTS, want, WRITE } from './lib/run-plan.js'
import { cpuAccount, errors, runCase, skipped } from './lib/run-cases.js'
import { cpuBusy, machine, machineCpu, procCpu } from './lib/run-machine.js'
import { measureDurable, measureIngest, measureLatency, measurePeers, measurePhysical, measureRead, setupRedis } from './lib/run-sections.js'

const HERE = path.dirname(fileURLToPath(import.meta.url))
const ROOT = path.resolve(HERE, '..')

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

// ---------------------------------------------------------------------------------------------
function writeReport(res) {
  const md = buildMarkdown(res, { OURS, VARIANTS, PEERS, MATCH, OURS_B, OURS_TYPED })
  console.log('\n' + md.markdown)
  if (WRITE) {
    const file = path.join(ROOT, 'docs', 'benchmarks.md')
    const old = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : ''
    fs.writeFileSync(file, keepSections(old, md.markdown))
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
  const info = machine(ROOT)
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
  if (want('physical')) await measurePhysical(results)

  // Section 2: peers.
  if (want('peers')) await measurePeers(results, peerOk)

  // Section 1: ours.
  if (want('ingest')) await measureIngest(results)

  // Redis for sections 3 and 5.
  const { redis, redisDir } = await setupRedis(results, info)

  try {
    if (want('durable')) await measureDurable(results, redis)
    if (want('read')) await measureRead(results)
    if (want('latency')) await measureLatency(results, redis)
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
