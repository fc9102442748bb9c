/**
 * Memory under pressure: unflushed bytes per bucket are bounded by `maxBufferBytes` in every
 * WAL mode. When flushes fall behind, puts wait (back-pressure) instead of growing the heap;
 * when a flush fails, the bucket stops (BUCKET_FAILED) and every acknowledged record survives a
 * reopen. Real child processes; RSS is read from the process itself.
 */
import { spawnSync } from 'node:child_process'
import * as path from 'node:path'
import { describe, expect, it } from 'vitest'
import { PersistingBackend } from '../src/backends/persisting.js'
import { tmpDir } from './helpers/tmp.js'

const CHILD = path.resolve(import.meta.dirname, 'fixtures', 'pressure-writer.mjs')
const MiB = 1024 * 1024

interface Report {
  acked: number[]
  errors: Record<string, number>
  maxBuffered: number
  peakRss: number
  failed: boolean
}

function run(dir: string, mode: 'plain' | 'wal', producers: number, perProducer: number, recordKiB: number, maxBufferBytes: number, env: NodeJS.ProcessEnv = {}): Report {
  // A capped V8 heap keeps the records' garbage JSON strings from dominating RSS, so RSS shows
  // the native side (buffer, Lance) that this test is about.
  const r = spawnSync(process.execPath, ['--max-old-space-size=192', CHILD, dir, mode, String(producers), String(perProducer), String(recordKiB), String(maxBufferBytes)], {
    encoding: 'utf8',
    env: { ...process.env, ...env },
    timeout: 240_000,
    maxBuffer: 64 * MiB,
  })
  expect(r.status, r.stderr).toBe(0)
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as Report
}

async function storedSeqs(dir: string, wal: boolean): Promise<number[]> {
  const b = new PersistingBackend({ bucketId: 0, storagePath: dir, ...(wal ? { enableWal: true } : {}) })
  const seqs: number[] = []
  for await (const r of b.getStream(0, null, false)) seqs.push(r.seq as number)
  await b.close()
  return seqs
}

describe('memory under pressure', () => {
  it('puts wait for flushes instead of buffering past maxBufferBytes (WAL off, 256 MiB of 64 KiB records)', async () => {
    const dir = tmpDir('persisting-pressure-')
    const limit = 4 * MiB
    const report = run(dir, 'plain', 8, 512, 64, limit)
    expect(report.errors).toEqual({})
    expect(report.acked.length).toBe(8 * 512)
    // One put per producer may land after the check that made the others wait.
    expect(report.maxBuffered).toBeGreaterThan(0)
    expect(report.maxBuffered).toBeLessThanOrEqual(limit + 8 * 66 * 1024)
    // The same workload with the bound out of reach: the buffer holds (nearly) everything.
    const unbounded = run(tmpDir('persisting-pressure-'), 'plain', 8, 512, 64, 2 ** 40)
    expect(unbounded.maxBuffered).toBeGreaterThan(200 * MiB)
    // Twice the data through the same bound: peak RSS does not grow with the volume (V8's
    // garbage and Lance's write buffers make RSS noisy, so this compares two runs).
    const doubled = run(tmpDir('persisting-pressure-'), 'plain', 8, 1024, 64, limit)
    expect(doubled.errors).toEqual({})
    expect(doubled.maxBuffered).toBeLessThanOrEqual(limit + 8 * 66 * 1024)
    expect(doubled.peakRss).toBeLessThan(report.peakRss + 128 * MiB)
    const seqs = await storedSeqs(dir, false)
    expect(seqs.length).toBe(8 * 512)
    expect(new Set(seqs).size).toBe(8 * 512)
  }, 300_000)

  it('a failing flush stops the bucket: producers get typed errors, memory stays bounded, acknowledged records survive', async () => {
    const dir = tmpDir('persisting-pressure-')
    const limit = 2 * MiB
    const report = run(dir, 'wal', 8, 256, 64, limit, { PERSISTING_FAULT_ERROR: 'before_lance_commit' })
    expect(report.failed).toBe(true)
    const codes = Object.keys(report.errors)
    expect(codes.length).toBeGreaterThan(0)
    for (const c of codes) expect(['IO', 'BUCKET_FAILED']).toContain(c)
    expect(report.acked.length + Object.values(report.errors).reduce((a, b) => a + b, 0)).toBe(8 * 256)
    // Producers stop being accepted once the bucket fails: the heap cannot fill with buffered data.
    expect(report.maxBuffered).toBeLessThanOrEqual(limit + 8 * 66 * 1024)
    // A fresh process (no fault) replays the WAL: every acknowledged record exactly once.
    const seqs = await storedSeqs(dir, true)
    expect(new Set(seqs).size).toBe(seqs.length)
    expect(seqs.slice().sort((a, b) => a - b)).toEqual(report.acked.slice().sort((a, b) => a - b))
  }, 300_000)
})
