// Benchmark runner: the machine description and CPU accounting (load from other processes) from /proc.
import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { pkgVersion } from './util.js'

// ---------------------------------------------------------------------------------------------
function sh(cmd) {
  const r = spawnSync('sh', ['-c', cmd], { encoding: 'utf8' })
  return (r.stdout || '').trim()
}

/** Busy and total CPU seconds of the whole machine so far (from /proc/stat). */
const CLK_TCK = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout) || 100
export function machineCpu() {
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
export function procCpu(pid) {
  try {
    const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ')
    return (Number(f[11]) + Number(f[12])) / CLK_TCK
  } catch {
    return 0
  }
}

/** Fraction of all cores busy over `ms` (from /proc/stat), measured before anything of ours runs. */
export async function cpuBusy(ms) {
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

/** The machine, OS, node and package versions the report header shows; `ROOT` is the repository root. */
export function machine(ROOT) {
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
