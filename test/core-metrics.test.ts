/**
 * The metrics a queue's operators ask for, read back from the exposition text: WAL fsync
 * latency, compactions, flush errors (the last in a child process with an injected I/O error).
 */
import { spawnSync } from 'node:child_process'
import * as path from 'node:path'
import { describe, expect, it } from 'vitest'
import { metrics } from '../src/metrics.js'
import { PersistingBackend } from '../src/backends/persisting.js'
import { tmpDir } from './helpers/tmp.js'

function sample(text: string, name: string, topic: string): number | undefined {
  const m = new RegExp(`^${name}\\{bucket="0",topic="${topic}"\\} (\\S+)$`, 'm').exec(text)
  return m ? Number(m[1]) : undefined
}

describe('core metrics', () => {
  it('times every WAL fsync and counts compactions', async () => {
    const b = new PersistingBackend({ bucketId: 0, storagePath: tmpDir(), topic: 'm-fsync', enableWal: true, walSyncInterval: 0, enableMetrics: true })
    for (let i = 0; i < 20; i++) await b.put({ id: `k${i}`, i })
    for (let round = 0; round < 3; round++) {
      await b.putBatch([{ id: 'x', i: round }])
      await b.flush()
    }
    const before = sample(await metrics(), 'persisting_compactions_total', 'm-fsync')
    expect(before).toBe(0)
    await b.compact()
    const text = await metrics()
    expect(text).toContain('# TYPE persisting_wal_fsync_duration_seconds histogram')
    const fsyncs = sample(text, 'persisting_wal_fsync_duration_seconds_count', 'm-fsync')
    expect(fsyncs).toBeGreaterThanOrEqual(1)
    expect(sample(text, 'persisting_wal_fsync_duration_seconds_sum', 'm-fsync')).toBeGreaterThan(0)
    expect(sample(text, 'persisting_compactions_total', 'm-fsync')).toBe(1)
    expect(sample(text, 'persisting_flush_errors_total', 'm-fsync')).toBe(0)
    await b.close()
  })

  it('counts a failed flush, which stops the bucket', () => {
    const dist = path.resolve(import.meta.dirname, '..', 'dist', 'index.js')
    const script = `
      import { metrics } from ${JSON.stringify(dist)}
      import { PersistingBackend } from ${JSON.stringify(dist.replace('index.js', 'backends/persisting.js'))}
      const b = new PersistingBackend({ bucketId: 0, storagePath: process.argv[1], topic: 'm-err', enableWal: true, enableMetrics: true })
      await b.putBatch([{ id: 'a' }, { id: 'b' }])
      const err = await b.flush().then(() => null, (e) => e.code)
      const stats = await b.stats()
      console.log(JSON.stringify({ err, failed: Boolean(stats.failed), text: await metrics() }))
      await b.close()`
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script, tmpDir()], {
      encoding: 'utf8',
      env: { ...process.env, PERSISTING_FAULT_ERROR: 'before_lance_commit' },
      timeout: 60_000,
    })
    expect(r.status, r.stderr).toBe(0)
    const out = JSON.parse(r.stdout.trim().split('\n').pop()!)
    expect(out.err).toBe('IO')
    expect(out.failed).toBe(true)
    expect(sample(out.text, 'persisting_flush_errors_total', 'm-err')).toBe(1)
  })
})
