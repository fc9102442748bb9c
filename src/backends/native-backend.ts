/**
 * The part LanceBackend and PersistingBackend share: a StorageBackend over one native bucket
 * store. Records cross as one JSON text per call; reads come back as one JSON text per chunk.
 * Option checking lives in options/, group commit in group-commit.ts, stats shaping in
 * stats.ts; every native call goes through `callNative`.
 */
import { notifierFeed, streamRows, type ChangeFeed } from '../blocking-read.js'
import { DEFAULT_BATCH_SIZE, DEFAULT_CLEANUP_OLDER_THAN, DEFAULT_MAX_BATCH_BYTES, DEFAULT_MAX_RECORD_BYTES, DEFAULT_FLUSH_THRESHOLD, DEFAULT_READ_ONLY, MAX_NATIVE_STREAM_CHUNK } from '../defaults.js'
import { StorageError } from '../errors.js'
import { callNative, native, type NativeBucketStore, type NativeStats, type NativeStoreOptions } from '../native.js'
import type { LanceBackendOptions } from '../options/backend-options.js'
import { check, checkOffsetLimit, checkOptions, nonEmptyString, positiveInt, rule, waitSeconds } from '../options/validate.js'
import { checkRecord } from '../records.js'
import { checkArrow, checkJsonText, checkNdjson, checkWithVectors, type SizeLimits } from '../size-limits.js'
import type { Row } from '../types.js'
import { afterArrowLoad, loadArrow, withArrowInput, type ArrowInput, type ArrowTable } from '../arrow.js'
import { encodeBatch, rowsOf, type EncodedBatch } from '../vectors.js'
import { GroupCommit } from './group-commit.js'
import { Notifier } from '../notifier.js'
import { failedOpenStats, shapeStats, type StatsShape } from './stats.js'
import type { BackendCapabilities, BackendOptions, BackendStats, StorageBackend } from './types.js'

const DONE = Promise.resolve()

/** Options of `cleanupOldVersions()`. */
export interface CleanupOptions {
  /** Seconds: versions committed longer ago than this are removed. Number >= 0 (Infinity removes none); default 604800 (7 days). */
  olderThan?: number
}

/** What `cleanupOldVersions()` removed. */
export interface CleanupResult {
  /** Versions (manifests) removed. */
  versionsRemoved: number
  /** Bytes of files removed (manifests, transaction files, data files no kept version names). */
  bytesRemoved: number
}

const CLEANUP_OPTIONS = { olderThan: waitSeconds }

/** A single put waiting for its tick's combined call. */
interface TickPut {
  json: string
  resolve: () => void
  reject: (err: unknown) => void
}

/** Refusals of a whole combined call that a put on its own might not get (nothing was stored). */
const REDO_ALONE = new Set(['INVALID_RECORD', 'SCHEMA_MISMATCH'])
/** Rows a read takes from the buffer on the caller's thread when they are all there (tailing). */
const SYNC_READ_MAX = 1024

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
    vectorColumns: options.vectorColumns,
    storageOptions: options.storageOptions,
    walPath: options.walPath,
    leaseTimeout: options.leaseTimeout,
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
  /** Fields whose number arrays cross as raw floats: `vector` and the declared `vectorColumns`. */
  private readonly vectorNames: ReadonlySet<string>
  /** JSON already encoded and size-checked by `prepareBatch`, taken by the next putBatch of that array. */
  private readonly prepared = new WeakMap<readonly Row[], EncodedBatch>()
  private readonly store: NativeBucketStore | undefined
  /** Opening failures (a WAL lock held elsewhere, ...) surface from the first call instead of the constructor. */
  private readonly openError: unknown
  /**
   * Fired after every put of this writer is readable, and on close: a blocking stream in this
   * process wakes on the put itself, with no thread hop (a reader of another process's writes
   * waits in the core instead, which follows new versions).
   */
  private readonly appended = new Notifier()
  /** This object is the bucket's writer: every put to it passes here, so `appended` sees them all. */
  private readonly isWriter: boolean
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
    this.vectorNames = new Set(['vector', ...Object.keys((options.vectorColumns as Record<string, number> | undefined) ?? {})])
    const view = adoptedStore
    adoptedStore = undefined
    this.isWriter = view === undefined && options.readOnly !== true
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

  /**
   * Durable single puts (`walSyncInterval: 0`) made in one tick go into the core as one call:
   * 64 producers resumed by one fsync then cost one N-API call, one WAL frame and one group
   * commit wait, not 64. Each keeps its own outcome (see `drainTick`).
   */
  private tick: TickPut[] = []
  /** Set once a put had to wait for an fsync: only then are single puts combined. */
  private durableAcks = false

  /** The open store, or the open failure. */
  private s(): NativeBucketStore {
    if (this.store) return this.store
    throw this.openError
  }

  /** Every call into the store goes through here: open failures and native errors come out typed. */
  private call<T>(fn: (store: NativeBucketStore) => T): T {
    // Anything else this backend does comes after the puts already made, and sees them.
    if (this.tick.length > 0) this.drainTick()
    const store = this.s()
    return callNative(() => fn(store))
  }

  async put(record: Row): Promise<void> {
    if (checkRecord(record, 'record', true)) return this.putBatch([record])
    const json = JSON.stringify([record])
    checkJsonText(json, 1, this.limits)
    if (this.durableAcks && this.store !== undefined) return this.joinTick(json)
    await this.putJson(json)
  }

  /** Queues a checked single put (`[record]` JSON) for this tick's combined call. */
  private joinTick(json: string): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      if (this.tick.push({ json, resolve, reject }) === 1) queueMicrotask(() => this.drainTick())
    })
  }

  /**
   * Puts the tick's single puts as one call (or several, under maxBatchBytes). The call is all
   * or nothing: when the core refuses it (a record that does not fit the schema, say), nothing
   * of it was stored, and each put is made again on its own, right away and in order, so only
   * the bad one fails. A failed fsync fails them all, as it would have one by one (never
   * retried: their frames may be on disk).
   */
  private drainTick(): void {
    const puts = this.tick
    this.tick = []
    void afterArrowLoad(async () => {
      let from = 0
      while (from < puts.length) {
        let to = from + 1
        let chars = puts[from].json.length
        while (to < puts.length && (chars + puts[to].json.length) * 3 <= this.limits.maxBatchBytes) chars += puts[to++].json.length
        const part = puts.slice(from, to)
        from = to
        const text = part.length === 1 ? part[0].json : `[${part.map((p) => p.json.slice(1, -1)).join(',')}]`
        let ack: number
        try {
          ack = this.call((s) => s.putJson(text))
        } catch (err) {
          const alone = part.length > 1 && err instanceof StorageError && REDO_ALONE.has(err.code)
          for (const p of part) {
            if (alone) this.ackedNow(() => this.call((s) => s.putJson(p.json))).then(p.resolve, p.reject)
            else p.reject(err)
          }
          continue
        }
        this.afterAck(ack).then(
          () => part.forEach((p) => p.resolve()),
          (err: unknown) => part.forEach((p) => p.reject(err)),
        )
      }
    })
  }

  async putBatch(records: Row[]): Promise<void> {
    if (Array.isArray(records) && records.length === 0) return
    const enc = this.prepared.get(records) ?? this.prepareBatch(records)
    this.prepared.delete(records)
    const vectors = enc.vectors
    if (vectors === undefined) await this.putJson(enc.json)
    else await this.acked(() => this.call((s) => s.putJsonVectors(enc.json, vectors)))
  }

  /**
   * Validates, encodes and size-checks a batch without writing it; the next `putBatch(records)`
   * reuses the result. The queue prepares every bucket's part of a call first, so a part over a
   * limit refuses the whole call before any bucket stores anything.
   */
  prepareBatch(records: Row[]): EncodedBatch {
    const enc = encodeBatch(records, this.vectorNames)
    if (enc.vectors === undefined) checkJsonText(enc.json, records.length, this.limits, records)
    else checkWithVectors(enc.json, enc.vectors.reduce((n, v) => n + v.data.byteLength, 0), records.length, this.limits)
    this.prepared.set(records, enc)
    return enc
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
   * An apache-arrow Table or RecordBatch, or Arrow IPC bytes: kept as Arrow into the buffer and
   * the WAL (no JSON), in the Lance schema the record path gives the same rows; all or nothing.
   */
  putArrow(data: ArrowInput): Promise<void> {
    return withArrowInput(data, (ipc) => {
      checkArrow(ipc, this.limits)
      return this.acked(() => this.call((s) => s.putIpc(ipc)))
    })
  }

  private putJson(json: string): Promise<void> {
    return this.acked(() => this.call((s) => s.putJson(json)))
  }

  /** Waits for what a put's ack number asks: nothing, the group-commit fsync, or back-pressure. */
  private acked(put: () => number): Promise<void> {
    // Single puts made before this one go first, also when both must wait for apache-arrow.
    if (this.tick.length > 0) this.drainTick()
    return afterArrowLoad(() => this.ackedNow(put))
  }

  private ackedNow(put: () => number): Promise<void> {
    let ack: number
    try {
      ack = put()
    } catch (err) {
      return Promise.reject(err)
    }
    return this.afterAck(ack)
  }

  /** What a put's ack number asks for, as a promise. */
  private afterAck(ack: number): Promise<void> {
    // Rows are readable once put returns, except with walSyncInterval 0: after their fsync.
    if (ack === 0) {
      this.appended.notify()
      return DONE
    }
    if (ack > 0) this.durableAcks = true
    if (ack < 0) {
      this.appended.notify()
      // Back-pressure: wait until the buffer is back under its limit.
      return this.call((s) => s.settle(-1)).then(() => undefined)
    }
    return this.commits.wait(ack).then(this.notifyAppended)
  }

  private readonly notifyAppended = (): void => this.appended.notify()

  async get(offset = 0, limit: number | null = null): Promise<Row[]> {
    checkOffsetLimit(offset, limit)
    if (limit === 0) return []
    if (limit !== null && limit <= SYNC_READ_MAX) {
      const now = this.call((s) => s.readBuffered(offset, limit))
      if (now) return rowsOf(now)
    }
    return rowsOf(await this.call((s) => s.readRows(offset, limit ?? undefined)))
  }

  async *getStream(offset = 0, limit: number | null = null, block = false): AsyncGenerator<Row> {
    checkOffsetLimit(offset, limit)
    const store = this.s()
    const total = () => this.call((s) => s.totalCount())
    // This writer's puts wake the stream in JS; a reader waits in the core (which wakes on new
    // rows and, for a reader, follows other processes' flushes).
    const nativeFeed: ChangeFeed<number> = {
      mark: total,
      wait: async (seen, { timeoutMs }) => {
        const now = await this.call((s) => s.waitForMore(seen, timeoutMs === undefined ? undefined : timeoutMs / 1000))
        return now > seen ? 'notified' : 'closed'
      },
    }
    const feed: ChangeFeed<unknown> = this.isWriter ? (notifierFeed([this.appended]) as ChangeFeed<unknown>) : (nativeFeed as ChangeFeed<unknown>)
    yield* streamRows<Row>(
      {
        read: async (pos, n) => {
          const available = store.totalCount() - pos
          if (available <= 0) return []
          const m = Math.min(n, available)
          // At the head the rows are still in the buffer: read them now, without a thread hop.
          if (m <= SYNC_READ_MAX) {
            const now = this.call((s) => s.readBuffered(pos, m))
            if (now) return rowsOf(now)
          }
          return rowsOf(await this.call((s) => s.readRows(pos, m)))
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
    // The core reads while apache-arrow loads (the first import takes 0.1 - 0.4 s).
    const read = this.call((s) => s.readIpc(offset, limit ?? undefined))
    const [arrow, ipc] = await Promise.all([loadArrow(), read])
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
    try {
      await this.call((s) => s.close())
    } finally {
      this.appended.close()
    }
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

  /**
   * Removes the versions committed more than `olderThan` seconds ago (never the latest) and the
   * files only they name: disk that `compact()` and every flush leave behind. A removed version
   * can no longer be checked out (`NOT_FOUND`); the stored records are untouched. Only the
   * bucket's writer may call it (`READ_ONLY` otherwise).
   */
  async cleanupOldVersions(options: CleanupOptions = {}): Promise<CleanupResult> {
    checkOptions(options, CLEANUP_OPTIONS, 'cleanupOldVersions')
    const olderThan = (options as CleanupOptions).olderThan ?? DEFAULT_CLEANUP_OLDER_THAN
    const r = await this.call((s) => s.cleanupOldVersions(olderThan))
    return { versionsRemoved: r.versionsRemoved, bytesRemoved: r.bytesRemoved }
  }

  /** The `k` records nearest to `vector` in a vector field, nearest first, each with `_distance`. */
  async search(column: string, vector: number[] | Float32Array | Float64Array, k = 10): Promise<Row[]> {
    check(column, nonEmptyString, 'column')
    check(k, positiveInt, 'k')
    const v = Array.from(vector as ArrayLike<number>)
    check(v, finiteNumbers, 'search vector')
    return rowsOf(await this.call((s) => s.search(column, v, k)))
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
