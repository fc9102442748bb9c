/** Shared fixtures of the queue tests: a fresh system and directory per test, a user backend, helpers. */
import * as fs from 'node:fs/promises'
import * as os from 'node:os'
import * as path from 'node:path'
import { afterEach, beforeEach, expect, vi } from 'vitest'
import {
  StorageError,
  createSystem,
  type BackendOptions,
  type BackendStats,
  type Row,
  type StorageBackend,
  type System,
} from '../../src/index.js'

export const rec = (id: string | number, n = 0): Row => ({ id, n, x: n + 0.5, s: `v${n}` })

/** Resolves after `n` event-loop turns (setImmediate, which our code never uses). */
export function turns(n = 5): Promise<void> {
  return n <= 0 ? Promise.resolve() : new Promise((r) => setImmediate(() => r(turns(n - 1))))
}

export async function rejection(p: Promise<unknown> | (() => unknown)): Promise<unknown> {
  try {
    await (typeof p === 'function' ? p() : p)
  } catch (e) {
    return e
  }
  throw new Error('expected a rejection')
}

export async function expectCode(p: Promise<unknown> | (() => unknown), code: string): Promise<StorageError> {
  const err = await rejection(p)
  expect(err).toBeInstanceOf(StorageError)
  expect((err as StorageError).code).toBe(code)
  return err as StorageError
}

export async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = []
  for await (const x of it) out.push(x)
  return out
}

/** A from-scratch backend with no blocking support of its own, counting lifecycle calls. */
export class ArrayBackend implements StorageBackend {
  static instances: ArrayBackend[] = []
  readonly rows: Row[] = []
  flushes = 0
  closed = false
  constructor(readonly options: BackendOptions) {
    ArrayBackend.instances.push(this)
  }
  async put(record: Row): Promise<void> {
    if (this.closed) throw new StorageError('closed', 'CLOSED')
    this.rows.push({ ...record })
  }
  async putBatch(records: Row[]): Promise<void> {
    for (const r of records) await this.put(r)
  }
  async get(offset = 0, limit: number | null = null): Promise<Row[]> {
    return this.rows.slice(offset, limit === null ? undefined : offset + limit)
  }
  async *getStream(offset = 0, limit: number | null = null): AsyncGenerator<Row> {
    yield* await this.get(offset, limit)
  }
  async flush(): Promise<void> {
    this.flushes++
  }
  async stats(): Promise<BackendStats> {
    const n = this.rows.length
    return { bucketId: this.options.bucketId, totalCount: n, bufferCount: n, persistedCount: 0, backend: 'array' }
  }
  totalCount(): number {
    return this.rows.length
  }
  async close(): Promise<void> {
    this.closed = true
  }
}

/** The current test's system and directory: live bindings that `useQueueSystem` sets per test. */
export let system: System
export let dir: string

/** A fresh `system` and `dir` for every test of the calling file; shut down afterwards. */
export function useQueueSystem(): void {
  beforeEach(async () => {
    system = await createSystem()
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'pst-queue-'))
    ArrayBackend.instances = []
  })
  afterEach(async () => {
    vi.restoreAllMocks()
    await system.shutdown()
    await fs.rm(dir, { recursive: true, force: true })
  })
}
