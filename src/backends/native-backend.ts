/**
 * The part LanceBackend and PersistingBackend share: a StorageBackend over one native bucket
 * store. Records cross as one JSON text per call; reads come back as one JSON text per chunk.
 * Option checking lives in options/, group commit in group-commit.ts, stats shaping in
 * stats.ts; every native call goes through `callNative`.
 */
import { streamRows, type ChangeFeed } from '../blocking-read.js'
import { DEFAULT_BATCH_SIZE, DEFAULT_MAX_BATCH_BYTES, DEFAULT_MAX_RECORD_BYTES, DEFAULT_FLUSH_THRESHOLD, DEFAULT_READ_ONLY, MAX_NATIVE_STREAM_CHUNK } from '../defaults.js'
import { StorageError } from '../errors.js'
import { callNative, native, type NativeBucketStore, type NativeStats, type NativeStoreOptions } from '../native.js'
import type { LanceBackendOptions } from '../options/backend-options.js'
import { check, checkOffsetLimit, nonEmptyString, positiveInt, rule } from '../options/validate.js'
import { assertRecord, encodeRecords } from '../records.js'
import { checkJsonText, checkNdjson, type SizeLimits } from '../size-limits.js'
import type { Row } from '../types.js'
import { afterArrowLoad, loadArrow, withNdjsonOf, type ArrowInput, type ArrowTable } from '../arrow.js'
import { GroupCommit } from './group-commit.js'
import { failedOpenStats, shapeStats, type StatsShape } from './stats.js'
import type { BackendCapabilities, BackendOptions, BackendStats, StorageBackend } from './types.js'

const DONE = Promise.resolve()

const finiteNumbers = rule<number[]>(
  'a non-empty array of finite numbers',
  (v) => Array.isArray(v) && v.length > 0 && v.every((x) => typeof x === 'number' && Number.isFinite(x)),
)

/** Native options every native backend shares, with the documented defaults. */
export function baseNativeOptions(options: LanceBackendOptions, backend: StatsShape): NativeStoreOptions {
  return {
    readOnly: options.readOnly ?? DEFAULT_READ_ONLY,
    storagePath: options.storagePath,
    bucketId: options.bucketId ?? 0,
    topic: options.topic,
    backend,
    batchSize: options.batchSize ?? DEFAULT_BATCH_SIZE,
    flushThreshold: options.flushThreshold ?? DEFAULT_FLUSH_THRESHOLD,
    compactionThreshold: options.compactionThreshold,
    compression: options.compression ?? undefined,
    maxBufferBytes: options.maxBufferBytes,
  }
}

/**
 * A store handed to the next NativeBackend constructor instead of opening one (checkout views);
 * set and cleared synchronously around that `new` by `NativeBackend.adopting`.
 */
let adoptedStore: NativeBucketStore | undefined

export abstract class NativeBackend implements StorageBackend {
  /** The queue passes `topic` (metrics labels) and opens lock-free readers with `readOnly`. */
  static readonly capabilities: BackendCapabilities = { topic: true, readOnly: true }

  readonly bucketId: number
  readonly storagePath: string
  readonly batchSize: number
  /** maxRecordBytes / maxBatchBytes, checked in JS before a call crosses into the core. */
  private readonly limits: SizeLimits
  /** JSON already encoded and size-checked by `prepareBatch`, taken by the next putBatch of that array. */
  private readonly prepared = new WeakMap<readonly Row[], string>()
  private readonly store: NativeBucketStore | undefined
  /** Opening failures (a WAL lock held elsewhere, ...) surface from the first call instead of the constructor. */
  private readonly openError: unknown
  private readonly commits = new GroupCommit(
    (target) => this.call((s) => s.settle(target)),
    (err) => {
      // The frames may have reached the disk before the fsync failed: unknown outcome.
      if (err instanceof StorageError && err.code === 'WAL_IO') err.indeterminate = true
      return err
    },
  )

  /** `nativeOptions` is only called when the store is opened (not for a checkout view). */
  protected constructor(options: BackendOptions, private readonly shape: StatsShape, nativeOptions: () => NativeStoreOptions) {
    this.bucketId = options.bucketId ?? 0
    this.storagePath = options.storagePath
    this.batchSize = options.batchSize ?? DEFAULT_BATCH_SIZE
    this.limits = {
      maxRecordBytes: (options.maxRecordBytes as number | undefined) ?? DEFAULT_MAX_RECORD_BYTES,
      maxBatchBytes: (options.maxBatchBytes as number | undefined) ?? DEFAULT_MAX_BATCH_BYTES,
    }
    const view = adoptedStore
    adoptedStore = undefined
    if (view !== undefined) {
      this.store = view
      return
    }
    try {
      const opts = nativeOptions()
      this.store = callNative(() => native().NativeBucketStore.open(opts))
    } catch (err) {
      this.openError = err
    }
  }

  /** Runs `make` (one constructor call) so that the backend it constructs wraps `store` as is. */
  protected static adopting<B extends NativeBackend>(store: NativeBucketStore, make: () => B): B {
    adoptedStore = store
    try {
      return make()
    } finally {
      adoptedStore = undefined
    }
  }

  /** The open store, or the open failure. */
  private s(): NativeBucketStore {
    if (this.store) return this.store
    throw this.openError
  }

  /** Every call into the store goes through here: open failures and native errors come out typed. */
  private call<T>(fn: (store: NativeBucketStore) => T): T {
    const store = this.s()
    return callNative(() => fn(store))
  }

  async put(record: Row): Promise<void> {
    assertRecord(record)
    const json = JSON.stringify([record])
    checkJsonText(json, 1, this.limits)
    await this.putJson(json)
  }

  async putBatch(records: Row[]): Promise<void> {
    if (Array.isArray(records) && records.length === 0) return
    const json = this.prepared.get(records) ?? this.prepareBatch(records)
    this.prepared.delete(records)
    await this.putJson(json)
  }

  /**
   * Validates, encodes and size-checks a batch without writing it; the next `putBatch(records)`
   * reuses the result. The queue prepares every bucket's part of a call first, so a part over a
   * limit refuses the whole call before any bucket stores anything.
   */
  prepareBatch(records: Row[]): string {
    const json = encodeRecords(records)
    checkJsonText(json, records.length, this.limits, records)
    this.prepared.set(records, json)
    return json
  }

  /**
   * Raw NDJSON (one JSON object per line; blank lines skipped), as one call: no JS object is
   * built. All or nothing: a bad line rejects the call with `INVALID_RECORD` naming its line.
   */
  async putNdjson(data: Uint8Array | string): Promise<void> {
    checkNdjson(data, this.limits)
    await this.acked(() => this.call((s) => s.putNdjson(data, this.limits.maxRecordBytes)))
  }

  /**
   * An apache-arrow Table or RecordBatch, or Arrow IPC bytes: converted to NDJSON lines in the
   * core and stored like `putNdjson` (same schema as the record path, all or nothing).
   */
  putArrow(data: ArrowInput): Promise<void> {
    return withNdjsonOf(data, (nd) => this.putNdjson(nd))
  }

  private putJson(json: string): Promise<void> {
    return this.acked(() => this.call((s) => s.putJson(json)))
  }

  /** Waits for what a put's ack number asks: nothing, the group-commit fsync, or back-pressure. */
  private acked(put: () => number): Promise<void> {
    return afterArrowLoad(() => this.ackedNow(put))
  }

  private ackedNow(put: () => number): Promise<void> {
    let ack: number
    try {
      ack = put()
    } catch (err) {
      return Promise.reject(err)
    }
    if (ack === 0) return DONE
    // Back-pressure: wait until the buffer is back under its limit.
    if (ack < 0) return this.call((s) => s.settle(-1)).then(() => undefined)
    return this.commits.wait(ack)
  }

  async get(offset = 0, limit: number | null = null): Promise<Row[]> {
    checkOffsetLimit(offset, limit)
    if (limit === 0) return []
    return JSON.parse(await this.call((s) => s.readJson(offset, limit ?? undefined))) as Row[]
  }

  async *getStream(offset = 0, limit: number | null = null, block = false): AsyncGenerator<Row> {
    checkOffsetLimit(offset, limit)
    const store = this.s()
    const total = () => this.call((s) => s.totalCount())
    // The core wakes waiters on new rows (and, for a reader, follows other processes' flushes).
    const feed: ChangeFeed<number> = {
      mark: total,
      wait: async (seen, { timeoutMs }) => {
        const now = await this.call((s) => s.waitForMore(seen, timeoutMs === undefined ? undefined : timeoutMs / 1000))
        return now > seen ? 'notified' : 'closed'
      },
    }
    yield* streamRows<Row>(
      {
        read: async (pos, n) => {
          const available = store.totalCount() - pos
          if (available <= 0) return []
          return JSON.parse(await this.call((s) => s.readJson(pos, Math.min(n, available)))) as Row[]
        },
        feed,
        chunk: this.batchSize,
        maxChunk: MAX_NATIVE_STREAM_CHUNK,
        // The next chunk is read by the core while this one is parsed and consumed here.
        hasMore: (pos) => total() > pos,
      },
      offset,
      limit,
      block,
    )
  }

  /**
   * Records `[offset, offset + limit)` as an Apache Arrow `Table` (the `apache-arrow` package,
   * an optional peer dependency): the stored columns as they are, no JSON round trip. Int64
   * columns read as `BigInt`, vectors as `FixedSizeList<Float32>`.
   */
  async getArrow(offset = 0, limit: number | null = null): Promise<ArrowTable> {
    checkOffsetLimit(offset, limit)
    const arrow = await loadArrow()
    const ipc = await this.call((s) => s.readIpc(offset, limit ?? undefined))
    return arrow.tableFromIPC(ipc)
  }

  /**
   * Resolves with the total once it exceeds `seen`, on close, or after `timeout` seconds. On a
   * `readOnly` backend this follows other processes' flushes (polling with back-off).
   */
  waitForNew(seen: number, timeout: number): Promise<number> {
    return this.call((s) => s.waitForMore(seen, timeout))
  }

  flush(): Promise<void> {
    return this.call((s) => s.flush())
  }

  totalCount(): number {
    return this.store ? this.call((s) => s.totalCount()) : 0
  }

  /** Works also when the open failed (the error is in `failed`), so callers can report it. */
  async stats(): Promise<BackendStats> {
    const s: NativeStats = this.store ? this.call((st) => st.stats()) : failedOpenStats(this.bucketId, this.storagePath, this.openError)
    return shapeStats(this.shape, this.bucketId, this.storagePath, s)
  }

  async close(): Promise<void> {
    if (!this.store) return
    await this.call((s) => s.close())
  }

  /** Every version of the dataset, oldest first. */
  async versions(): Promise<{ version: number; timestamp: Date }[]> {
    const v = await this.call((s) => s.versions())
    return v.map((x) => ({ version: x.version, timestamp: new Date(x.timestampMs) }))
  }

  /** Merges small fragments into larger ones (row order is kept). */
  compact(): Promise<{ fragmentsRemoved: number; fragmentsAdded: number }> {
    return this.call((s) => s.compact())
  }

  /** The `k` records nearest to `vector` in a vector field, nearest first, each with `_distance`. */
  async search(column: string, vector: number[] | Float32Array | Float64Array, k = 10): Promise<Row[]> {
    check(column, nonEmptyString, 'column')
    check(k, positiveInt, 'k')
    const v = Array.from(vector as ArrayLike<number>)
    check(v, finiteNumbers, 'search vector')
    return JSON.parse(await this.call((s) => s.search(column, v, k))) as Row[]
  }

  /** Builds a vector index (IVF) on a vector field; later searches use it. */
  createIndex(column: string): Promise<void> {
    return this.call((s) => s.createIndex(column))
  }

  /** The store of a read-only view of `version`, for a subclass's `checkout`. */
  protected async checkoutStore(version: number): Promise<NativeBucketStore> {
    check(version, positiveInt, 'version')
    return this.call((s) => s.checkout(version))
  }
}
