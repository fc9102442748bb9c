/**
 * A bounded run of scripts/soak.mjs (20 s): ingest with random flushes, compactions, schema
 * evolutions, reopens and concurrent blocking streams; every record must read back and RSS must
 * stay bounded. Longer runs: `npm run test:soak -- --minutes N`.
 */
import { spawnSync } from 'node:child_process'
import * as path from 'node:path'
import { expect, it } from 'vitest'

it('soak (20 s): every record reads back, memory stays bounded', () => {
  const run = spawnSync(process.execPath, [path.resolve('scripts/soak.mjs'), '--seconds', '20'], { encoding: 'utf8', timeout: 170_000 })
  const summary = run.stdout.split('\n').find((l) => l.startsWith('soak:')) ?? ''
  expect(run.signal, run.stderr).toBeNull()
  expect(summary, run.stderr).toMatch(/^soak: ok /)
  expect(run.status, run.stderr).toBe(0)
  expect(Number(/records=(\d+)/.exec(summary)?.[1])).toBeGreaterThan(0)
  console.log(summary)
}, 180_000)
