/**
 * The part LanceBackend and PersistingBackend share: a StorageBackend over one native bucket
 * store. Records cross as one JSON text per call; reads come back as one JSON text per chunk.
 */
import { fromNative, StorageError } from '../errors.js'
import { native, type NativeBucketStore, type NativeStoreOptions } from '../native.js'
import { assertRecord, encodeRecords } from '../records.js'
import { checkOffsetLimit } from './args.js'
import type { BackendOptions, BackendStats, Row, StorageBackend } from './types.js'

const DONE = Promise.resolve()

/** Largest chunk a stream reads at once; streams start at batchSize and grow towards it. */
const MAX_STREAM_CHUNK = 65_536

export interface OptionSpec {
  [name: string]:
    | 'posInt'
    | 'nonNegInt'
    | 'nonNegNumber'
    | 'posNumber'
    | 'seconds'
    | 'bool'
    | 'string'
    | 'compression'
    | 'recoveryMode'
    | 'int'
}

/** Longest accepted duration (a year): beyond it an interval means "never" and overflows timers. */
export const MAX_SECONDS = 365 * 24 * 3600
const RECOVERY_MODES = new Set(['pointInTime', 'absolute'])

const COMPRESSIONS = new Set(['zstd', 'lz4', 'snappy'])

/** Rejects unknown option names and values of the wrong kind, naming the option. */
export function checkOptions(backend: string, options: BackendOptions, spec: OptionSpec): void {
  if (typeof options !== 'object' || options === null) {
    throw new StorageError(`${backend} options must be an object`, 'INVALID_OPTION')
  }
  for (const [name, value] of Object.entries(options)) {
    const kind = spec[name]
    if (kind === undefined) {
      throw new StorageError(
        `unknown option '${name}' for ${backend}; known options: ${Object.keys(spec).join(', ')}`,
        'INVALID_OPTION',
      )
    }
    if (value === undefined) continue
    const bad = (what: string) =>
      new StorageError(`option '${name}' of ${backend} must be ${what}, got ${String(value)}`, 'INVALID_OPTION')
    switch (kind) {
      case 'posInt':
        if (!Number.isSafeInteger(value) || (value as number) <= 0) throw bad('a positive integer')
        break
      case 'nonNegInt':
        if (!Number.isSafeInteger(value) || (value as number) < 0) throw bad('a non-negative integer')
        break
      case 'int':
        if (!Number.isSafeInteger(value)) throw bad('an integer')
        break
      case 'nonNegNumber':
        if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) throw bad('a number >= 0')
        break
      case 'seconds':
        if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || value > MAX_SECONDS) {
          throw bad(`a number of seconds from 0 to ${MAX_SECONDS}`)
        }
        break
      case 'recoveryMode':
        if (!RECOVERY_MODES.has(value as string)) throw bad(`'pointInTime' or 'absolute'`)
        break
      case 'posNumber':
        if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) throw bad('a number > 0')
        break
      case 'bool':
        if (typeof value !== 'boolean') throw bad('a boolean')
        break
      case 'string':
        if (typeof value !== 'string' || value.length === 0) throw bad('a non-empty string')
        break
      case 'compression':
        if (value !== null && !COMPRESSIONS.has(value as string)) {
          throw bad(`one of 'zstd', 'lz4', 'snappy' or null`)
        }
        break
    }
  }
  if (typeof options.storagePath !== 'string' || options.storagePath.length === 0) {
    throw new StorageError(`${backend} needs a storagePath`, 'INVALID_OPTION')
  }
}

/** Native options every native backend shares, with the documented defaults. */
export function baseNativeOptions(
  options: BackendOptions & {
    flushThreshold?: number
    compactionThreshold?: number
    compression?: NativeStoreOptions['compression']
    topic?: string
    readOnly?: boolean
  },
  backend: string,
): NativeStoreOptions {
  return {
    readOnly: options.readOnly ?? false,
    storagePath: options.storagePath,
    bucketId: options.bucketId ?? 0,
    topic: options.topic,
    backend,
    batchSize: options.batchSize ?? 100,
    flushThreshold: options.flushThreshold ?? 1000,
    compactionThreshold: options.compactionThreshold,
    compression: options.compression ?? undefined,
  }
}

export abstract class NativeBackend implements StorageBackend {
  readonly bucketId: number
  readonly storagePath: string
  readonly batchSize: number
  protected store: NativeBucketStore | undefined
  /** Opening failures (a WAL lock held elsewhere, ...) surface from the first call instead of the constructor. */
  protected openError: unknown

  protected constructor(options: BackendOptions, nativeOptions: NativeStoreOptions | NativeBucketStore) {
    this.bucketId = options.bucketId ?? 0
    this.storagePath = options.storagePath
    this.batchSize = options.batchSize ?? 100
    if ('putJson' in nativeOptions) {
      this.store = nativeOptions
      return
    }
    try {
      this.store = native().NativeBucketStore.open(nativeOptions)
    } catch (err) {
      this.openError = fromNative(err)
    }
  }

  protected s(): NativeBucketStore {
    if (this.store) return this.store
    throw this.openError
  }

  async put(record: Row): Promise<void> {
    assertRecord(record)
    await this.putJson(JSON.stringify([record]))
  }

  async putBatch(records: Row[]): Promise<void> {
    if (Array.isArray(records) && records.length === 0) return
    await this.putJson(encodeRecords(records))
  }

  private putJson(json: string): Promise<void> {
    let ack: number
    try {
      ack = this.s().putJson(json)
    } catch (err) {
      return Promise.reject(fromNative(err))
    }
    if (ack === 0) return DONE
    if (ack < 0) return this.relieve()
    return this.durable >= ack ? DONE : this.awaitDurable(ack)
  }

  private async relieve(): Promise<void> {
    try {
      await this.s().settle(-1)
    } catch (err) {
      throw fromNative(err)
    }
  }

  // Group commit, JS side: puts waiting for an fsync queue here in WAL order, and one native
  // settle call acknowledges every put its fsync covered, so 64 producers cost a promise
  // round-trip per fsync instead of one per put.
  private durable = 0
  private requested = 0
  private inFlight = 0
  private syncQueued = false
  private waiting: { lsn: number; resolve: () => void; reject: (err: unknown) => void }[] = []
  private head = 0

  private awaitDurable(lsn: number): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.waiting.push({ lsn, resolve, reject })
      if (this.inFlight === 0) {
        // The disk is idle: start now. Puts made while this fsync runs form the next round,
        // so producers fall into cohorts and JavaScript works while the disk syncs.
        this.requestSync()
      } else if (!this.syncQueued) {
        // Puts issued in the same tick (resolved producers continue as microtasks) share one call.
        this.syncQueued = true
        queueMicrotask(() => {
          this.syncQueued = false
          this.requestSync()
        })
      }
    })
  }

  /** At most two settle calls in flight: one fsync running, the next already requested. */
  private requestSync(): void {
    if (this.head >= this.waiting.length || this.inFlight >= 2) return
    const target = this.waiting[this.waiting.length - 1].lsn
    if (target <= this.requested) return
    this.requested = target
    this.inFlight++
    this.s()
      .settle(target)
      .then(
        (durable) => {
          this.inFlight--
          if (durable > this.durable) this.durable = durable
          this.release()
          this.requestSync()
        },
        (err) => {
          this.inFlight--
          const e = fromNative(err)
          // The frames may have reached the disk before the fsync failed: unknown outcome.
          if (e instanceof StorageError && e.code === 'WAL_IO') e.indeterminate = true
          // A failed fsync poisons the WAL: everything still waiting is unacknowledged.
          const failed = this.waiting.slice(this.head)
          this.waiting = []
          this.head = 0
          this.requested = this.durable
          for (const w of failed) w.reject(e)
        },
      )
  }

  private release(): void {
    const w = this.waiting
    let i = this.head
    while (i < w.length && w[i].lsn <= this.durable) w[i++].resolve()
    if (i === w.length) {
      this.waiting = []
      this.head = 0
    } else if (i > 1024 && i * 2 > w.length) {
      this.waiting = w.slice(i)
      this.head = 0
    } else {
      this.head = i
    }
  }

  async get(offset = 0, limit: number | null = null): Promise<Row[]> {
    checkOffsetLimit(offset, limit)
    if (limit === 0) return []
    try {
      return JSON.parse(await this.s().readJson(offset, limit ?? undefined)) as Row[]
    } catch (err) {
      throw fromNative(err)
    }
  }

  async *getStream(offset = 0, limit: number | null = null, block = false): AsyncGenerator<Row> {
    checkOffsetLimit(offset, limit)
    const store = this.s()
    let pos = offset
    let left = limit ?? Infinity
    let chunk = this.batchSize
    // The next chunk is read by the core while this one is parsed and consumed here.
    let next: Promise<string> | undefined
    const read = (n: number): Promise<string> => {
      const p = store.readJson(pos, n)
      p.catch(() => {}) // awaited below; a consumer that stops early must not leave it unhandled
      return p
    }
    while (left > 0) {
      if (!next) {
        const total = store.totalCount()
        if (pos >= total) {
          if (!block) return
          let now: number
          try {
            now = await store.waitForMore(pos, undefined)
          } catch (err) {
            throw fromNative(err)
          }
          if (now <= pos) return // closed
          continue
        }
        next = read(Math.min(chunk, left, total - pos))
      }
      let rows: Row[]
      try {
        rows = JSON.parse(await next) as Row[]
      } catch (err) {
        throw fromNative(err)
      } finally {
        next = undefined
      }
      if (rows.length === 0) return
      pos += rows.length
      left -= rows.length
      // Long scans amortise the per-call cost; short tails stay at batchSize.
      chunk = Math.min(chunk * 2, MAX_STREAM_CHUNK)
      const total = store.totalCount()
      if (left > 0 && pos < total) next = read(Math.min(chunk, left, total - pos))
      for (const r of rows) yield r
    }
  }

  /**
   * Resolves with the total once it exceeds `seen`, on close, or after `timeout` seconds. On a
   * `readOnly` backend this follows other processes' flushes (polling with back-off).
   */
  async waitForNew(seen: number, timeout: number): Promise<number> {
    try {
      return await this.s().waitForMore(seen, timeout)
    } catch (err) {
      throw fromNative(err)
    }
  }

  async flush(): Promise<void> {
    try {
      await this.s().flush()
    } catch (err) {
      throw fromNative(err)
    }
  }

  totalCount(): number {
    return this.store ? this.store.totalCount() : 0
  }

  /** Works also when the open failed (the error is in `failed`), so callers can report it. */
  async stats(): Promise<BackendStats> {
    if (!this.store) {
      const why = this.openError instanceof Error ? this.openError.message : String(this.openError)
      return this.shapeStats({
        bucketId: this.bucketId, totalCount: 0, bufferCount: 0, persistedCount: 0, storagePath: this.storagePath,
        backend: '', walEnabled: false, walSize: 0, walFsyncs: 0, fragments: 0, version: 0, diskBytes: 0,
        walEvents: [], readOnly: false, failed: `the bucket could not be opened: ${why}`,
      })
    }
    try {
      return this.shapeStats(this.s().stats())
    } catch (err) {
      throw fromNative(err)
    }
  }

  protected abstract shapeStats(s: ReturnType<NativeBucketStore['stats']>): BackendStats

  async close(): Promise<void> {
    if (!this.store) return
    try {
      await this.store.close()
    } catch (err) {
      throw fromNative(err)
    }
  }

  /** Every version of the dataset, oldest first. */
  async versions(): Promise<{ version: number; timestamp: Date }[]> {
    try {
      const v = await this.s().versions()
      return v.map((x) => ({ version: x.version, timestamp: new Date(x.timestampMs) }))
    } catch (err) {
      throw fromNative(err)
    }
  }

  /** Merges small fragments into larger ones (row order is kept). */
  async compact(): Promise<{ fragmentsRemoved: number; fragmentsAdded: number }> {
    try {
      return await this.s().compact()
    } catch (err) {
      throw fromNative(err)
    }
  }

  /** The `k` records nearest to `vector` in a vector field, nearest first, each with `_distance`. */
  async search(column: string, vector: number[] | Float32Array | Float64Array, k = 10): Promise<Row[]> {
    if (typeof column !== 'string' || column.length === 0) {
      throw new StorageError('search needs a column name', 'INVALID_OPTION')
    }
    if (!Number.isSafeInteger(k) || k <= 0) throw new StorageError(`k must be a positive integer, got ${k}`, 'INVALID_OPTION')
    const v = Array.from(vector as ArrayLike<number>)
    if (v.length === 0 || v.some((x) => typeof x !== 'number' || !Number.isFinite(x))) {
      throw new StorageError('search vector must be a non-empty array of finite numbers', 'INVALID_OPTION')
    }
    try {
      return JSON.parse(await this.s().search(column, v, k)) as Row[]
    } catch (err) {
      throw fromNative(err)
    }
  }

  /** Builds a vector index (IVF) on a vector field; later searches use it. */
  async createIndex(column: string): Promise<void> {
    try {
      await this.s().createIndex(column)
    } catch (err) {
      throw fromNative(err)
    }
  }

  protected async checkoutStore(version: number): Promise<NativeBucketStore> {
    if (!Number.isSafeInteger(version) || version <= 0) {
      throw new StorageError(`version must be a positive integer, got ${version}`, 'INVALID_OPTION')
    }
    try {
      return await this.s().checkout(version)
    } catch (err) {
      throw fromNative(err)
    }
  }
}
