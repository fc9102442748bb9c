// Process-level crash driver shared by the Vitest files and the long-run scripts: spawns the
// writer child (test/fixtures/durable-writer.mjs), collects what it acknowledged, reopens the
// bucket in a fresh process and checks that every acknowledged record is there exactly once,
// in order. Plain JavaScript so `node scripts/...` can use it without a TypeScript step.
import { spawn } from 'node:child_process'
import * as fs from 'node:fs'
import * as path from 'node:path'
import { fileURLToPath } from 'node:url'

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')
export const WRITER = path.join(ROOT, 'test/fixtures/durable-writer.mjs')

/** The child imports the compiled package; tests fail with this hint when it is missing. */
export function distBuilt() {
  return fs.existsSync(path.join(ROOT, 'dist/backends/persisting.js'))
}

/**
 * Runs the writer child. `wrap` prefixes the command (strace ...). `killAfterMs` sends SIGKILL
 * that long after the child printed `start` (or after spawn with `killFrom: 'spawn'`).
 */
export function runChild({ dir, mode, options = {}, env = {}, wrap = [], killAfterMs, killFrom = 'start', timeoutMs = 120_000 }) {
  return new Promise((resolve, reject) => {
    const argv = [...wrap, process.execPath, WRITER, dir, mode, JSON.stringify(options)]
    const child = spawn(argv[0], argv.slice(1), { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
    const run = { events: [], acks: [], rejects: [], ops: [], start: null, verify: null, done: false, code: null, signal: null, stderr: '', timedOut: false }
    let buf = ''
    let killTimer
    const kill = () => child.kill('SIGKILL')
    const armKill = () => {
      if (killAfterMs !== undefined && killTimer === undefined) killTimer = setTimeout(kill, killAfterMs)
    }
    if (killFrom === 'spawn') armKill()
    const guard = setTimeout(() => {
      run.timedOut = true
      kill()
    }, timeoutMs)
    child.stdout.setEncoding('utf8')
    child.stdout.on('data', (chunk) => {
      buf += chunk
      let nl
      while ((nl = buf.indexOf('\n')) >= 0) {
        parseLine(run, buf.slice(0, nl))
        if (run.start !== null) armKill()
        buf = buf.slice(nl + 1)
      }
    })
    child.stderr.setEncoding('utf8')
    child.stderr.on('data', (d) => {
      if (run.stderr.length < 20_000) run.stderr += d
    })
    child.on('error', reject)
    child.on('close', (code, signal) => {
      clearTimeout(killTimer)
      clearTimeout(guard)
      run.code = code
      run.signal = signal
      resolve(run)
    })
  })
}

function parseLine(run, line) {
  const parts = line.split(' ')
  switch (parts[0]) {
    case 'start':
      run.start = Number(parts[1])
      break
    case 'ack':
      run.acks.push([Number(parts[1]), Number(parts[2])])
      run.events.push({ name: 'put', ok: true, code: null, message: '', first: Number(parts[1]) })
      break
    case 'reject': {
      const r = {
        first: Number(parts[1]),
        n: Number(parts[2]),
        code: parts[3],
        indeterminate: parts[4] === '1',
        message: parts.slice(5).join(' '),
      }
      run.rejects.push(r)
      run.events.push({ name: 'put', ok: false, code: r.code, message: r.message, first: r.first, indeterminate: r.indeterminate })
      break
    }
    case 'op': {
      const o = { name: parts[1], ok: parts[2] === 'ok', code: parts[3] ?? null, message: parts.slice(4).join(' ') }
      run.ops.push(o)
      run.events.push(o)
      break
    }
    case 'verify':
      run.verify = JSON.parse(parts.slice(1).join(' '))
      break
    case 'done':
      run.done = true
      break
  }
}

/** Reopens the bucket in a fresh process (a restart) and reads every row back. */
export async function verifyBucket(dir, options = {}) {
  const run = await runChild({ dir, mode: 'verify', options })
  if (!run.verify) {
    return { error: `verifier exited (code ${run.code}, signal ${run.signal}) without a result: ${run.stderr.slice(-2000)}` }
  }
  return run.verify
}

// Inclusive integer intervals [a, b], kept sorted and merged.
function addInterval(list, a, b) {
  list.push([a, b])
  list.sort((x, y) => x[0] - y[0])
  const merged = []
  for (const [s, e] of list) {
    const last = merged[merged.length - 1]
    if (last && s <= last[1] + 1) last[1] = Math.max(last[1], e)
    else merged.push([s, e])
  }
  list.splice(0, list.length, ...merged)
}

function overlap(list, a, b) {
  let n = 0
  for (const [s, e] of list) n += Math.max(0, Math.min(b, e) - Math.max(a, s) + 1)
  return n
}

/** What the writers of one bucket were told: acknowledged, rejected and indeterminate seqs. */
export class Ledger {
  acked = []
  ackedCount = 0
  definite = [] // rejected without `indeterminate`: must be absent
  indeterminate = [] // may or may not be present (never twice)

  add(run) {
    if (run.start !== null) {
      // Seqs from `start` on are reused by this run; only acknowledged ones were promised.
      this.definite = this.definite.filter((r) => r[1] < run.start)
      this.indeterminate = this.indeterminate.filter((r) => r[1] < run.start)
    }
    for (const [first, n] of run.acks) {
      addInterval(this.acked, first, first + n - 1)
      this.ackedCount += n
    }
    for (const r of run.rejects) {
      addInterval(r.indeterminate ? this.indeterminate : this.definite, r.first, r.first + r.n - 1)
    }
  }

  get maxAcked() {
    return this.acked.length ? this.acked[this.acked.length - 1][1] : -1
  }
}

/**
 * Compares what a reopened bucket holds with the ledger. `lost` = acknowledged seqs missing,
 * `duplicated` = rows beyond the first copy of a seq; problems name every other violation
 * (gap or reorder below the highest row, a definitely rejected record present, bad content).
 */
export function check(ledger, verify) {
  const problems = []
  if (verify.error) return { lost: ledger.maxAcked + 1, duplicated: 0, problems: [`reopen failed: ${verify.error}`] }
  const present = []
  let rowsSeen = 0
  for (const [a, b] of verify.ranges) {
    addInterval(present, a, b)
    rowsSeen += b - a + 1
  }
  const unique = present.reduce((n, [a, b]) => n + b - a + 1, 0)
  const duplicated = rowsSeen - unique
  let lost = 0
  for (const [a, b] of ledger.acked) lost += b - a + 1 - overlap(present, a, b)
  const inOrder = verify.count === 0 || (verify.ranges.length === 1 && verify.ranges[0][0] === 0)
  if (!inOrder) problems.push(`rows are not seq 0..${verify.count - 1} in order: ${fmtRanges(verify.ranges)}`)
  if (lost) problems.push(`${lost} acknowledged record(s) lost (acknowledged ${fmtRanges(ledger.acked)}, present ${fmtRanges(present)})`)
  if (duplicated) problems.push(`${duplicated} duplicated row(s): ${fmtRanges(verify.ranges)}`)
  if (verify.totalCount !== verify.count) problems.push(`totalCount() ${verify.totalCount} but ${verify.count} rows read`)
  for (const [a, b] of ledger.definite) {
    if (overlap(present, a, b)) problems.push(`seqs ${a}..${b} were rejected (not indeterminate) yet are present`)
  }
  for (const b of verify.bad) problems.push(`bad row content: ${b}`)
  return { lost, duplicated, problems }
}

export function fmtRanges(ranges, max = 8) {
  const s = ranges.slice(0, max).map(([a, b]) => (a === b ? `${a}` : `${a}-${b}`))
  if (ranges.length > max) s.push(`... (${ranges.length} ranges)`)
  return `[${s.join(', ')}]`
}

/** Deterministic PRNG (mulberry32): a failing round is replayable from its seed. */
export function prng(seed) {
  let s = seed >>> 0
  return () => {
    s = (s + 0x6d2b79f5) >>> 0
    let t = s
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/**
 * The kill loop: `rounds` writer runs, each SIGKILLed at a random moment (mostly while
 * writing, sometimes while it is still opening/recovering), each followed by a reopen check.
 * A fresh bucket every `roundsPerDir` rounds keeps a round's cost flat in long runs.
 */
export async function killLoop({ rounds, walSyncInterval, ndjson = false, arrow = false, vectors = false, seed = Date.now(), roundsPerDir = 25, makeDir, backendOptions, onRound }) {
  const rnd = prng(seed)
  const summary = { rounds: 0, acknowledged: 0, lost: 0, duplicated: 0, problems: [], seed }
  let ledger
  let dir
  for (let round = 0; round < rounds; round++) {
    if (round % roundsPerDir === 0) {
      dir = makeDir()
      ledger = new Ledger()
    }
    const options = {
      walSyncInterval,
      flushThreshold: [15, 40, 120][Math.floor(rnd() * 3)],
      compactionThreshold: 3, // compactions all the time
      maxWalSize: 4096, // WAL rotations (and the flushes they force) all the time
      producers: 1 + Math.floor(rnd() * 3),
      seed: Math.floor(rnd() * 2 ** 31),
      ndjson,
      arrow,
      vectors,
      ...(backendOptions ? { backendOptions: backendOptions(dir) } : {}),
    }
    const early = rnd() < 0.15
    const run = await runChild({
      dir,
      mode: 'stream',
      options,
      killFrom: early ? 'spawn' : 'start',
      killAfterMs: Math.floor(rnd() * (early ? 400 : 700)),
    })
    const where = `round ${round} (seed ${seed}, options ${JSON.stringify(options)})`
    if (run.signal !== 'SIGKILL' || run.timedOut) {
      summary.problems.push(`${where}: writer ended with code ${run.code} signal ${run.signal} before the kill: ${lastWords(run)}`)
    }
    ledger.add(run)
    const verify = await verifyBucket(dir, { walSyncInterval, vectors, ...(backendOptions ? { backendOptions: backendOptions(dir) } : {}) })
    const r = check(ledger, verify)
    summary.rounds++
    summary.acknowledged += run.acks.reduce((n, [, k]) => n + k, 0)
    summary.lost += r.lost
    summary.duplicated += r.duplicated
    for (const p of r.problems) summary.problems.push(`${where}: ${p}`)
    onRound?.(round, run, verify, r)
    if (r.problems.length) {
      // Later rounds on a broken bucket would only repeat this; continue on a fresh one.
      dir = makeDir()
      ledger = new Ledger()
    }
  }
  return summary
}

export function lastWords(run) {
  const rej = run.rejects.map((r) => `reject ${r.code} ${r.message}`).join('; ')
  const ops = run.ops.filter((o) => !o.ok).map((o) => `${o.name} ${o.code} ${o.message}`).join('; ')
  return [rej, ops, run.stderr.trim().split('\n').slice(-5).join(' | ')].filter(Boolean).join(' / ')
}
