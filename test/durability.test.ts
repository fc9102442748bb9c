/**
 * Durability rules the backends must keep at the TypeScript surface: panics become INTERNAL
 * instead of aborting Node, out-of-range options are INVALID_OPTION, one writer per bucket
 * (LOCKED / WAL_LOCKED), lock-free readers, fail-stop after an I/O error in a flush with no
 * duplicate after the reopen, and the exported list of fault points.
 */
import { spawnSync } from 'node:child_process'
import * as path from 'node:path'
import { describe, expect, it } from 'vitest'
import { LanceBackend } from '../src/backends/lance.js'
import { PersistingBackend } from '../src/backends/persisting.js'
import { faultPoints } from '../src/faults.js'
import { StorageError, WALError } from '../src/errors.js'
import { tmpDir } from './helpers/tmp.js'

const CHILD = path.resolve('test/fixtures/fault-child.mjs')

interface Step {
  step: string
  ok: boolean
  code?: string
  name?: string
  indeterminate?: boolean
  value?: unknown
  message?: string
}

function runChild(dir: string, scenario: string, env: Record<string, string>): { steps: Step[]; status: number | null; signal: string | null; stderr: string } {
  const r = spawnSync(process.execPath, [CHILD, dir, scenario], { env: { ...process.env, ...env }, encoding: 'utf8', timeout: 60_000 })
  const steps = r.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Step)
  return { steps, status: r.status, signal: r.signal, stderr: r.stderr }
}

const step = (steps: Step[], name: string) => steps.find((s) => s.step === name)

async function seqs(dir: string): Promise<number[]> {
  const b = new PersistingBackend({ bucketId: 0, storagePath: dir, enableWal: true, walSyncInterval: 0 })
  const rows = (await b.get()) as Array<{ seq: number }>
  await b.close()
  return rows.map((r) => r.seq)
}

describe('panics and option ranges', () => {
  it('a panic in a synchronous native call is an INTERNAL StorageError, not an abort', () => {
    const r = runChild(tmpDir(), 'panic-put', { PERSISTING_FAULT_PANIC: 'put' })
    expect(r.signal, r.stderr).toBeNull()
    expect(r.status, r.stderr).toBe(0)
    expect(step(r.steps, 'put')).toMatchObject({ ok: false, code: 'INTERNAL', name: 'StorageError' })
    expect(step(r.steps, 'end')?.ok).toBe(true)
  })

  it('a panic inside a flush on the core runtime is an INTERNAL StorageError', () => {
    const r = runChild(tmpDir(), 'panic-flush', { PERSISTING_FAULT_PANIC: 'before_lance_commit' })
    expect(r.signal, r.stderr).toBeNull()
    expect(step(r.steps, 'put')?.ok).toBe(true)
    expect(step(r.steps, 'flush')).toMatchObject({ ok: false, code: 'INTERNAL' })
  })

  it('walSyncInterval beyond range is INVALID_OPTION (it used to panic and abort Node)', async () => {
    for (const walSyncInterval of [1e20, Number.MAX_VALUE, 365 * 24 * 3600 + 1]) {
      expect(() => new PersistingBackend({ bucketId: 0, storagePath: tmpDir(), enableWal: true, walSyncInterval })).toThrow(
        expect.objectContaining({ code: 'INVALID_OPTION' }),
      )
    }
  })

  it('faultPoints() lists every injection point of the core', () => {
    const points = faultPoints()
    for (const p of ['put', 'before_lance_commit', 'after_lance_commit', 'after_wal_truncate', 'before_compaction_commit']) {
      expect(points).toContain(p)
    }
  })
})

describe('one writer per bucket', () => {
  it('WAL off: a second writer in the same process gets LOCKED, the first keeps working', async () => {
    const dir = tmpDir()
    const a = new LanceBackend({ bucketId: 0, storagePath: dir })
    await a.putBatch([{ seq: 0 }, { seq: 1 }])
    const b = new LanceBackend({ bucketId: 0, storagePath: dir })
    const err = await b.put({ seq: 9 }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(StorageError)
    expect((err as StorageError).code).toBe('LOCKED')
    await a.put({ seq: 2 })
    await a.flush()
    expect(((await a.get()) as Array<{ seq: number }>).map((r) => r.seq)).toEqual([0, 1, 2])
    await a.close()
    const c = new LanceBackend({ bucketId: 0, storagePath: dir })
    expect(c.totalCount()).toBe(3)
    await c.close()
  })

  it('WAL on: the second writer gets WAL_LOCKED (a WALError)', async () => {
    const dir = tmpDir()
    const a = new PersistingBackend({ bucketId: 0, storagePath: dir, enableWal: true })
    await a.put({ seq: 0 })
    const b = new PersistingBackend({ bucketId: 0, storagePath: dir, enableWal: true })
    const err = await b.put({ seq: 9 }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(WALError)
    expect((err as WALError).code).toBe('WAL_LOCKED')
    await a.close()
  })

  it('readOnly takes no lock, refuses writes, and sees the writer\'s flushes', async () => {
    const dir = tmpDir()
    const w = new PersistingBackend({ bucketId: 0, storagePath: dir, enableWal: true, walSyncInterval: 0 })
    await w.putBatch([{ seq: 0 }, { seq: 1 }])
    await w.flush()
    const r = new PersistingBackend({ bucketId: 0, storagePath: dir, readOnly: true })
    expect(((await r.get()) as Array<{ seq: number }>).map((x) => x.seq)).toEqual([0, 1])
    await expect(r.put({ seq: 5 })).rejects.toMatchObject({ code: 'READ_ONLY' })
    await w.put({ seq: 2 })
    await w.flush()
    expect(((await r.get()) as Array<{ seq: number }>).map((x) => x.seq)).toEqual([0, 1, 2])
    await r.close()
    await w.close()
  })
})

describe('fail-stop after an I/O error in a flush', () => {
  it('the failed flush is typed, later calls are BUCKET_FAILED, and the reopen has each record once', async () => {
    const dir = tmpDir()
    const r = runChild(dir, 'error-flush', { PERSISTING_FAULT_ERROR: 'after_lance_commit' })
    expect(r.status, r.stderr).toBe(0)
    expect(step(r.steps, 'put')?.ok).toBe(true)
    expect(step(r.steps, 'flush')).toMatchObject({ ok: false, code: 'IO' })
    for (const s of ['flush-again', 'put-after', 'get-after']) {
      expect(step(r.steps, s), s).toMatchObject({ ok: false, code: 'BUCKET_FAILED' })
    }
    expect(String(step(r.steps, 'stats')?.value)).toContain('injected')
    expect(step(r.steps, 'close')?.ok).toBe(true)
    expect(await seqs(dir)).toEqual([0, 1, 2])
  })
})
