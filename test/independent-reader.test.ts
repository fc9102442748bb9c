/**
 * The flushed dataset is plain Lance: an independent reader (pylance from PyPI, in a
 * virtualenv this test creates and caches) sees the same row count and values.
 */
import { execFileSync } from 'node:child_process'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { describe, expect, it } from 'vitest'
import { LanceBackend } from '../src/backends/lance.js'
import { tmpDir } from './helpers/tmp.js'

const VENV = process.env.PERSISTING_PYENV ?? path.join(os.homedir(), '.cache', 'persisting-pyenv')
const PY = path.join(VENV, 'bin', 'python')

function ensurePylance(): void {
  if (fs.existsSync(PY)) {
    try {
      execFileSync(PY, ['-c', 'import lance'], { stdio: 'ignore' })
      return
    } catch {
      /* reinstall below */
    }
  }
  execFileSync('python3', ['-m', 'venv', VENV], { stdio: 'inherit' })
  execFileSync(PY, ['-m', 'pip', 'install', '--quiet', '--disable-pip-version-check', 'pylance==14.0.2'], {
    stdio: 'inherit',
  })
}

describe('independent reader', () => {
  it('pylance reads the dataset LanceBackend wrote: same count and values', { timeout: 600_000 }, async () => {
    ensurePylance()
    const dir = tmpDir()
    const rows = Array.from({ length: 500 }, (_, i) => ({
      id: `r${i}`,
      n: i,
      x: i / 4,
      text: `row ${i}`,
      meta: { k: `m${i % 3}` },
      vec: [i, i + 1, i + 2],
    }))
    const b = new LanceBackend({ bucketId: 0, storagePath: dir })
    await b.putBatch(rows.slice(0, 200))
    await b.flush()
    await b.putBatch(rows.slice(200))
    await b.close()
    const script = `
import json, sys, lance
ds = lance.dataset(sys.argv[1])
t = ds.to_table()
print(json.dumps({"count": ds.count_rows(), "rows": t.to_pylist()}))`
    const out = JSON.parse(execFileSync(PY, ['-c', script, path.join(dir, 'data.lance')], { encoding: 'utf8', maxBuffer: 64 << 20 }))
    expect(out.count).toBe(500)
    expect(out.rows).toEqual(rows)
  })
})
