/**
 * One bucket of one topic: the backend instance plus an in-process notifier. The notifier
 * lives here rather than in the backends so that blocking readers wake on any backend,
 * including user-registered ones that know nothing about waiting.
 */
import { loadArrow, withArrowInput, type ArrowTable } from '../arrow.js'
import type { BackendStats, StorageBackend } from '../backends/types.js'
import { notifierFeed, streamRows } from '../blocking-read.js'
import { QUEUE_STREAM_CHUNK } from '../defaults.js'
import { StorageError } from '../errors.js'
import { parseNdjson } from '../ndjson.js'
import { Notifier } from '../notifier.js'
import type { Row } from '../types.js'

/** Native readers: resolve with the new total once it exceeds `seen`, or after `timeout` seconds. */
interface RemoteFollower {
  waitForNew(seen: number, timeout: number): Promise<number>
}

export class BucketStorage {
  /** Fires after every acknowledged put/putBatch on this bucket, and on close. */
  readonly notifier = new Notifier()
  private isClosed = false
  private closing: Promise<void> | undefined

  private watchers = 0
  private watching: Promise<void> | undefined

  constructor(
    readonly topic: string,
    readonly bucketId: number,
    readonly backend: StorageBackend,
    /** A lock-free reader of what writers (in any process) flushed. */
    readonly readOnly = false,
  ) {}

  /**
   * While a blocked reader waits, a read-only bucket looks for new flushes (the backend polls
   * with back-off) and fires the notifier. Returns the function that ends this watch.
   */
  watchRemote(): () => void {
    const remote = this.backend as Partial<RemoteFollower>
    if (!this.readOnly || typeof remote.waitForNew !== 'function') return () => {}
    this.watchers++
    if (!this.watching) {
      const loop = async (): Promise<void> => {
        while (this.watchers > 0 && !this.isClosed) {
          const seen = this.backend.totalCount()
          const now = await remote.waitForNew!(seen, 0.5)
          if (now > seen) this.notifier.notify()
        }
      }
      this.watching = loop()
        .catch(() => undefined)
        .finally(() => (this.watching = undefined))
    }
    return () => {
      this.watchers--
    }
  }

  get closed(): boolean {
    return this.isClosed
  }

  /**
   * Makes sure the backend opened (a native writer holds the bucket's lock, and on an object
   * store its lease): a failed open rejects here with the error it was (LOCKED, WAL_LOCKED, ...).
   */
  async claim(): Promise<void> {
    this.assertOpen()
    await this.backend.flush()
  }

  async put(record: Row): Promise<void> {
    this.assertOpen()
    await this.backend.put(record)
    this.notifier.notify()
  }

  /** Lets a backend that can (native ones) encode and size-check a batch before any bucket writes. */
  prepareBatch(records: Row[]): void {
    this.backend.prepareBatch?.(records)
  }

  async putBatch(records: Row[]): Promise<void> {
    this.assertOpen()
    await this.backend.putBatch(records)
    this.notifier.notify()
  }

  /** NDJSON as one call: the backend's own path when it has one, else parsed and put as a batch. */
  async putNdjson(data: Uint8Array | string): Promise<void> {
    this.assertOpen()
    if (this.backend.putNdjson) await this.backend.putNdjson(data)
    else await this.backend.putBatch(parseNdjson(data))
    this.notifier.notify()
  }

  /** Arrow IPC bytes as one call: the backend's own Arrow path when it has one, else NDJSON. */
  async putArrow(ipc: Uint8Array): Promise<void> {
    this.assertOpen()
    const own = (this.backend as { putArrow?: (data: Uint8Array) => Promise<void> }).putArrow
    if (typeof own === 'function') await own.call(this.backend, ipc)
    else await withArrowInput(ipc, (nd) => (this.backend.putNdjson ? this.backend.putNdjson(nd) : this.backend.putBatch(parseNdjson(nd))), true)
    this.notifier.notify()
  }

  get(offset: number, limit: number | null): Promise<Row[]> {
    return this.backend.get(offset, limit)
  }

  /** The backend's own Arrow read (native backends), else its rows through `tableFromJSON`. */
  async getArrow(offset: number, limit: number | null): Promise<ArrowTable> {
    const own = (this.backend as { getArrow?: (offset: number, limit: number | null) => Promise<ArrowTable> }).getArrow
    if (typeof own === 'function') return own.call(this.backend, offset, limit)
    const [arrow, rows] = await Promise.all([loadArrow(), this.backend.get(offset, limit)])
    return rows.length === 0 ? new arrow.Table() : arrow.tableFromJSON(rows as Array<Record<string, unknown>>)
  }

  /**
   * Non-blocking streams are the backend's own; blocking ones are driven from here with
   * get() + the notifier, so they work even on backends that cannot block themselves.
   */
  getStream(offset = 0, limit: number | null = null, block = false): AsyncIterable<Row> {
    if (block && this.readOnly) return this.backend.getStream(offset, limit, true)
    return block ? this.blockingStream(offset, limit) : this.backend.getStream(offset, limit, false)
  }

  private blockingStream(offset: number, limit: number | null): AsyncGenerator<Row> {
    return streamRows<Row>(
      { read: (pos, n) => this.backend.get(pos, n), feed: notifierFeed([this.notifier]), chunk: QUEUE_STREAM_CHUNK },
      offset,
      limit,
      true,
    )
  }

  /** A reader has nothing of its own to flush (system.shutdown flushes every bucket). */
  flush(): Promise<void> {
    return this.readOnly ? Promise.resolve() : this.backend.flush()
  }

  stats(): Promise<BackendStats> {
    return this.backend.stats()
  }

  totalCount(): number {
    return this.backend.totalCount()
  }

  /** Idempotent; wakes blocked readers first so they can end instead of hanging on a dead bucket. */
  close(): Promise<void> {
    if (!this.closing) {
      this.isClosed = true
      this.notifier.close()
      this.closing = this.backend.close()
    }
    return this.closing
  }

  private assertOpen(): void {
    if (this.isClosed) throw new StorageError(`topic '${this.topic}' bucket ${this.bucketId} is closed`, 'CLOSED')
  }
}
