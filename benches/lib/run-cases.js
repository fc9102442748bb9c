// Benchmark runner: runs each case in its own child process (benches/case.js), with cleanup on Ctrl-C.
import { spawn } from 'node:child_process'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { rmrf, tmpDir } from './util.js'
import { fmtRate, fmtMs, fmtMB } from './report.js'
import { PLAN, REPEATED_BATCHES } from './run-plan.js'

// benches/ (where case.js is) and the repository root.
const HERE = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const ROOT = path.resolve(HERE, '..')

/** Runs an ingest case `PLAN.repeats` times when it is a headline case; keeps the median run. */
export async function runIngest(args, label) {
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
export function runCase(args, label, timeoutSec = PLAN.caseTimeoutSec) {
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
export const cleanup = { child: null, dirs: new Set(), redis: null }
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => {
    console.log(`\n${sig}: stopping the running case, redis-server and removing temp dirs`)
    cleanup.child?.kill('SIGKILL')
    cleanup.redis?.kill()
    for (const d of cleanup.dirs) rmrf(d)
    process.exit(130)
  })
}

export const errors = []
export const skipped = []
export const cpuAccount = { children: 0 }

/** Stores a result under key, set and batch size. */
export function put(obj, key, set, batch, res) {
  obj[key] ??= {}
  obj[key][set] ??= {}
  obj[key][set][batch] = res
}
