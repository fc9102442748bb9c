// Small helpers shared by the benchmark runner and its child processes.
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms))

export function tmpDir(tag) {
  return fs.mkdtempSync(path.join(os.tmpdir(), `pst-bench-${tag}-`))
}

export function rmrf(dir) {
  if (dir) fs.rmSync(dir, { recursive: true, force: true })
}

/** { bytes, files } of everything under `p` (0 when it does not exist). */
export function du(p) {
  let bytes = 0
  let files = 0
  const walk = (d) => {
    let entries
    try {
      entries = fs.readdirSync(d, { withFileTypes: true })
    } catch {
      return
    }
    for (const e of entries) {
      const full = path.join(d, e.name)
      if (e.isDirectory()) walk(full)
      else {
        try {
          bytes += fs.statSync(full).size
          files++
        } catch {}
      }
    }
  }
  try {
    if (fs.statSync(p).isFile()) return { bytes: fs.statSync(p).size, files: 1 }
  } catch {
    return { bytes: 0, files: 0 }
  }
  walk(p)
  return { bytes, files }
}

export function countFiles(dir) {
  try {
    return fs.readdirSync(dir).length
  } catch {
    return 0
  }
}

export function percentile(sorted, p) {
  if (sorted.length === 0) return NaN
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))
  return sorted[i]
}

export function maxRssMB() {
  return process.resourceUsage().maxRSS / 1024
}

/** Reads a dependency's version from node_modules without going through its `exports`. */
export function pkgVersion(root, name) {
  try {
    return JSON.parse(fs.readFileSync(path.join(root, 'node_modules', name, 'package.json'), 'utf8')).version
  } catch {
    return null
  }
}
