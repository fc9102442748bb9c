/**
 * The consumer handle returned by readQueue: reads its assigned buckets with one offset per
 * bucket. Waiting uses the buckets' notifiers (plus one timer only when a timeout is given),
 * never a polling loop.
 */
import { loadArrow, type ArrowTable } from '../arrow.js'
import { deadlineAfter, readOrWait, type ChangeFeed } from '../blocking-read.js'
import { DEFAULT_GET_LIMIT, QUEUE_STREAM_CHUNK } from '../defaults.js'
import { waitForAny } from '../notifier.js'
import { check, invalidOption, nonNegativeInt } from '../options/validate.js'
import { registerLagSource } from '../reader-lag.js'
import type { Row } from '../types.js'
import type { BucketStorage } from './bucket-storage.js'
import { timeoutMs } from './options.js'
import type { Queue } from './queue.js'

export { DEFAULT_GET_LIMIT } from '../defaults.js'

export interface ReaderGetOptions {
  /** Most records to return, a non-negative integer; default 100 (DEFAULT_GET_LIMIT). */
  limit?: number
  /** Block until at least one record is available (or timeout / abort / shutdown); default false. */
  wait?: boolean
  /** Seconds (>= 0) to wait when `wait` is true; default undefined: wait indefinitely. */
  timeout?: number | null
  signal?: AbortSignal
}

export interface ReaderStreamOptions {
  /** Most records to yield, a non-negative integer; default null (unlimited). */
  limit?: number | null
  /** When caught up, wait for new records instead of ending; default false. */
  block?: boolean
  /** With block: end after this many seconds (>= 0) without a new record; default: never. */
  timeout?: number | null
  /** Ends the stream (quietly) when aborted. */
  signal?: AbortSignal
}

/** Records taken in one read, and how many came from each bucket (to hand back unconsumed ones). */
interface Taken {
  rows: Row[]
  parts: Array<{ bucketId: number; count: number; end: number }>
}

/** `T` is the record type (default `Row`) that get/getStream return; `readQueue<MyEvent>(...)` sets it. */
export class QueueReader<T extends object = Row> {
  private readonly offsets = new Map<number, number>()
  /** Round-robin start, so a busy first bucket cannot starve the others. */
  private cursor = 0
  /** Bumped by reset/setOffset so an in-flight read does not overwrite them. */
  private epoch = 0
  /** Serialises reads: two concurrent get() calls must not both take the same offsets. */
  private tail: Promise<unknown> = Promise.resolve()

  constructor(
    readonly queue: Queue,
    readonly bucketIds: readonly number[],
  ) {
    if (queue.config.backendOptions.enableMetrics === true) registerLagSource(this)
  }

  /** Records not read yet per assigned bucket that is open (head minus this reader's offset). */
  lagByBucket(): Map<number, number> {
    const out = new Map<number, number>()
    for (const b of this.queue.storage.openBuckets(this.topic)) {
      if (!this.bucketIds.includes(b.bucketId)) continue
      out.set(b.bucketId, Math.max(0, b.totalCount() - (this.offsets.get(b.bucketId) ?? 0)))
    }
    return out
  }

  get topic(): string {
    return this.queue.topic
  }

  /** Current offset of every assigned bucket. */
  getOffsets(): Record<number, number> {
    const out: Record<number, number> = {}
    for (const id of this.bucketIds) out[id] = this.offsets.get(id) ?? 0
    return out
  }

  reset(): void {
    this.epoch++
    this.offsets.clear()
  }

  /** Sets one bucket's offset, or every assigned bucket's when bucketId is omitted. */
  setOffset(offset: number, bucketId?: number): void {
    check(offset, nonNegativeInt, 'offset')
    if (bucketId !== undefined && !this.bucketIds.includes(bucketId)) {
      throw invalidOption(`bucket ${String(bucketId)} is not assigned to this reader (it has ${this.bucketIds.join(', ') || 'none'})`)
    }
    this.epoch++
    for (const id of bucketId === undefined ? this.bucketIds : [bucketId]) this.offsets.set(id, offset)
  }

  async get(options: ReaderGetOptions = {}): Promise<T[]> {
    const { limit = DEFAULT_GET_LIMIT, wait = false, timeout, signal } = options
    check(limit, nonNegativeInt, 'limit')
    const deadline = deadlineAfter(timeoutMs(timeout))
    return (await this.exclusive(() => this.take(limit, wait, deadline, signal))).rows as unknown as T[]
  }

  /**
   * The next records as an apache-arrow `Table`, taking and advancing offsets exactly as `get`
   * does (same options). One call reads one bucket (the next in round-robin order that has
   * records), so every Table has that bucket's one schema; call again for the others.
   */
  async getArrow(options: ReaderGetOptions = {}): Promise<ArrowTable> {
    const { limit = DEFAULT_GET_LIMIT, wait = false, timeout, signal } = options
    check(limit, nonNegativeInt, 'limit')
    const arrow = await loadArrow()
    const deadline = deadlineAfter(timeoutMs(timeout))
    const taken = await this.exclusive(() =>
      limit === 0 || (wait && this.queue.storage.closed)
        ? Promise.resolve(undefined)
        : readOrWait(() => this.readArrowAvailable(limit), this.feed, { wait, deadline, signal, isEmpty: (t) => t === undefined }),
    )
    return taken ?? new arrow.Table()
  }

  private async readArrowAvailable(limit: number): Promise<ArrowTable | undefined> {
    const epoch = this.epoch
    const n = this.bucketIds.length
    const start = this.cursor
    this.cursor = n === 0 ? 0 : (this.cursor + 1) % n
    for (let k = 0; k < n; k++) {
      const bucketId = this.bucketIds[(start + k) % n]
      const offset = this.offsets.get(bucketId) ?? 0
      const table = await this.queue.readBucket(bucketId).getArrow(offset, limit)
      if (table.numRows === 0) continue
      if (epoch === this.epoch) this.offsets.set(bucketId, offset + table.numRows)
      return table
    }
    return undefined
  }

  async *getStream(options: ReaderStreamOptions = {}): AsyncGenerator<T, void, undefined> {
    const { limit = null, block = false, timeout, signal } = options
    if (limit !== null && limit !== Infinity) check(limit, nonNegativeInt, 'limit')
    const idleMs = timeoutMs(timeout)
    let remaining = limit ?? Infinity
    while (remaining > 0 && !signal?.aborted && !this.queue.storage.closed) {
      // The timeout is per wait (as in Pulsing): a stream that keeps receiving records lives on.
      const deadline = deadlineAfter(idleMs)
      const taken = await this.exclusive(() => this.take(Math.min(remaining, QUEUE_STREAM_CHUNK), block, deadline, signal))
      if (taken.rows.length === 0) return
      let delivered = 0
      try {
        for (const row of taken.rows) {
          delivered++
          remaining--
          yield row as unknown as T
        }
      } finally {
        // The consumer stopped early (break/return/throw): un-take what it never saw.
        if (delivered < taken.rows.length) this.giveBack(taken, taken.rows.length - delivered)
      }
    }
  }

  /** Reads what is available; with `wait`, blocks until something is, or deadline/abort/close. */
  private async take(limit: number, wait: boolean, deadline: number | undefined, signal?: AbortSignal): Promise<Taken> {
    if (limit === 0) return { rows: [], parts: [] }
    // A waiting read that was queued behind another when the system shut down ends like one
    // that was already waiting; a plain read still reports CLOSED.
    if (wait && this.queue.storage.closed) return { rows: [], parts: [] }
    return readOrWait(() => this.readAvailable(limit), this.feed, { wait, deadline, signal, isEmpty: (t) => t.rows.length === 0 })
  }

  /** The assigned buckets' notifiers (looked up afresh: a writer may replace a reader's bucket). */
  private readonly feed: ChangeFeed<{ buckets: BucketStorage[]; since: number[] }> = {
    mark: () => {
      const buckets = this.bucketIds.map((id) => this.queue.readBucket(id))
      // Captured before reading: a put acknowledged while we read moves a version and we re-read.
      return { buckets, since: buckets.map((b) => b.notifier.version) }
    },
    wait: async ({ buckets, since }, options) => {
      // Readers of other processes' flushes learn of new rows only by looking: watch while waiting.
      const unwatch = buckets.map((b) => b.watchRemote())
      try {
        return await waitForAny(
          buckets.map((b) => b.notifier),
          { since, ...options },
        )
      } finally {
        for (const stop of unwatch) stop()
      }
    },
  }

  private async readAvailable(limit: number): Promise<Taken> {
    const epoch = this.epoch
    const n = this.bucketIds.length
    const rows: Row[] = []
    const parts: Taken['parts'] = []
    const start = this.cursor
    this.cursor = n === 0 ? 0 : (this.cursor + 1) % n
    for (let k = 0; k < n && rows.length < limit; k++) {
      const bucketId = this.bucketIds[(start + k) % n]
      const offset = this.offsets.get(bucketId) ?? 0
      const got = await this.queue.readBucket(bucketId).get(offset, limit - rows.length)
      if (got.length === 0) continue
      if (epoch === this.epoch) this.offsets.set(bucketId, offset + got.length)
      parts.push({ bucketId, count: got.length, end: offset + got.length })
      for (const row of got) rows.push(row)
    }
    return { rows, parts }
  }

  /** Returns the last `count` taken records to their buckets, unless offsets moved meanwhile. */
  private giveBack(taken: Taken, count: number): void {
    for (let i = taken.parts.length - 1; i >= 0 && count > 0; i--) {
      const part = taken.parts[i]
      const back = Math.min(count, part.count)
      count -= back
      if (this.offsets.get(part.bucketId) === part.end) this.offsets.set(part.bucketId, part.end - back)
    }
  }

  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.tail.then(fn) // tail never rejects: failures are swallowed below
    this.tail = run.catch(() => undefined)
    return run
  }
}
