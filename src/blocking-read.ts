/**
 * The one implementation of blocking reads: read; if nothing came back and the caller wants to
 * wait, wait for a change (notifier, native wait, deadline, abort), then read again. Used by the
 * memory and native backends' streams, BucketStorage's blocking stream and QueueReader.
 *
 * Lost wake-ups are avoided by marking before reading: a change after the mark (even one made
 * while the read runs) makes the wait return at once.
 */
import { waitForAny, type Notifier, type WaitOutcome } from './notifier.js'

/** Where a blocked reader learns that new data may be there. */
export interface ChangeFeed<M = unknown> {
  /** Taken before each read. */
  mark(): M
  /** Resolves 'notified' once something may have changed since `mark`, else why it gave up. */
  wait(mark: M, options: { timeoutMs?: number; signal?: AbortSignal }): Promise<WaitOutcome>
}

/** A feed over in-process notifiers (fired after every acknowledged put, and on close). */
export function notifierFeed(notifiers: readonly Notifier[]): ChangeFeed<number[]> {
  return {
    mark: () => notifiers.map((n) => n.version),
    wait: (since, options) => waitForAny(notifiers, { since, ...options }),
  }
}

export interface ReadOrWaitOptions<R> {
  /** Wait for data when the read comes back empty (else return the empty read). */
  wait: boolean
  /** `performance.now()` time after which to stop waiting; undefined waits without a deadline. */
  deadline?: number
  signal?: AbortSignal
  /** Whether a read result holds nothing; default: `length === 0`. */
  isEmpty?: (result: R) => boolean
}

/** Milliseconds from now as a `performance.now()` deadline; undefined stays undefined. */
export function deadlineAfter(ms: number | undefined): number | undefined {
  return ms === undefined ? undefined : performance.now() + ms
}

/**
 * Reads; with `wait`, blocks until a read returns something, the feed closes, the deadline
 * passes or the signal aborts (then the empty result is returned).
 */
export async function readOrWait<R, M>(read: () => Promise<R>, feed: ChangeFeed<M>, options: ReadOrWaitOptions<R>): Promise<R> {
  const { wait, deadline, signal } = options
  const isEmpty = options.isEmpty ?? ((r: R) => (r as { length: number }).length === 0)
  for (;;) {
    const mark = feed.mark()
    const result = await read()
    if (!isEmpty(result) || !wait || signal?.aborted) return result
    const timeoutMs = deadline === undefined ? undefined : deadline - performance.now()
    if ((await feed.wait(mark, { timeoutMs, signal })) !== 'notified') return result
  }
}

/** What a row stream reads from. */
export interface StreamSource<T> {
  /** Up to `n` rows from `pos` ([] when there are none yet). */
  read(pos: number, n: number): Promise<T[]>
  feed: ChangeFeed<unknown>
  /** Rows per read at first; default 256. */
  chunk?: number
  /** Double the chunk after every read, up to this; default: never grow. */
  maxChunk?: number
  /**
   * When given, the next chunk is read while this one is consumed, if rows past `pos` are
   * already known to exist (so no read is issued that could only come back empty).
   */
  hasMore?(pos: number): boolean
}

/**
 * Rows from `offset`, at most `limit` (null: no limit). Without `block` it ends when caught up;
 * with it, it waits on the source's feed for more and ends only at `limit` or when the feed closes.
 */
export async function* streamRows<T>(source: StreamSource<T>, offset: number, limit: number | null, block: boolean): AsyncGenerator<T> {
  let pos = offset
  let left = limit ?? Infinity
  let chunk = source.chunk ?? 256
  const maxChunk = source.maxChunk ?? chunk
  let next: Promise<T[]> | undefined
  while (left > 0) {
    let rows: T[]
    if (next !== undefined) {
      rows = await next
      next = undefined
      if (rows.length === 0) continue // the prefetched rows vanished: read (and wait) afresh
    } else {
      const n = Math.min(chunk, left)
      rows = await readOrWait(() => source.read(pos, n), source.feed, { wait: block })
      if (rows.length === 0) return
    }
    pos += rows.length
    left -= rows.length
    // Long scans amortise the per-call cost; short tails stay at the first chunk size.
    chunk = Math.min(chunk * 2, maxChunk)
    if (left > 0 && source.hasMore?.(pos)) {
      next = source.read(pos, Math.min(chunk, left))
      next.catch(() => {}) // awaited above; a consumer that stops early must not leave it unhandled
    }
    for (const row of rows) yield row
  }
}
