import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { afterAll } from 'vitest'

const made: string[] = []

/** A fresh temp directory, removed when the test file ends. */
export function tmpDir(prefix = 'persisting-test-'): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), prefix))
  made.push(d)
  return d
}

afterAll(() => {
  for (const d of made) fs.rmSync(d, { recursive: true, force: true })
})

/** Files under `dir` (recursive) with their sizes. */
export function listFiles(dir: string): Map<string, number> {
  const out = new Map<string, number>()
  const walk = (d: string) => {
    if (!fs.existsSync(d)) return
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name)
      if (e.isDirectory()) walk(p)
      else out.set(path.relative(dir, p), fs.statSync(p).size)
    }
  }
  walk(dir)
  return out
}
