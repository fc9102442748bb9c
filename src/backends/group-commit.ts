/**
 * Group commit, JS side. Puts that must wait for a WAL fsync queue here in WAL order, and one
 * `settle(target)` call acknowledges every put its fsync covered, so 64 producers cost one
 * promise round trip per fsync instead of one per put.
 *
 * `settle(target)` is injected (the native store's in production): it resolves with the
 * position the WAL is now durable up to (at least `target`), or rejects when the fsync failed.
 */

/** Resolves with the durable position (>= target), or rejects when it could not be made durable. */
export type Settle = (target: number) => Promise<number>

interface Waiter {
  lsn: number
  resolve: () => void
  reject: (err: unknown) => void
}

const DONE = Promise.resolve()

export class GroupCommit {
  /** Everything up to this WAL position is durable. */
  private durableLsn = 0
  /** Highest position a settle call was issued for. */
  private requested = 0
  private inFlight = 0
  private syncQueued = false
  /** Waiters in LSN order; `head` is the first not yet settled (avoids shifting a long array). */
  private waiting: Waiter[] = []
  private head = 0

  /** `onFailure` may decorate a failed settle's error before the waiters receive it. */
  constructor(
    private readonly settle: Settle,
    private readonly onFailure: (err: unknown) => unknown = (err) => err,
  ) {}

  get durable(): number {
    return this.durableLsn
  }

  /** Puts waiting for an fsync. */
  get pending(): number {
    return this.waiting.length - this.head
  }

  /**
   * Resolves once WAL position `lsn` is durable. Positions must be requested in WAL order (each
   * put's position is higher than every earlier put's), as the store hands them out.
   */
  wait(lsn: number): Promise<void> {
    if (lsn <= this.durableLsn) return DONE
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
    let settling: Promise<number>
    try {
      settling = this.settle(target)
    } catch (err) {
      settling = Promise.reject(err)
    }
    settling.then(
      (durable) => {
        this.inFlight--
        if (durable > this.durableLsn) this.durableLsn = durable
        this.release()
        this.requestSync()
      },
      (err: unknown) => {
        this.inFlight--
        const e = this.onFailure(err)
        // A failed fsync poisons the WAL: everything still waiting is unacknowledged (also
        // puts past `target`, queued behind it), and the next put issues a fresh settle.
        const failed = this.waiting.slice(this.head)
        this.waiting = []
        this.head = 0
        this.requested = this.durableLsn
        for (const w of failed) w.reject(e)
      },
    )
  }

  /** Resolves every waiter up to the durable position. */
  private release(): void {
    const w = this.waiting
    let i = this.head
    while (i < w.length && w[i].lsn <= this.durableLsn) w[i++].resolve()
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
}
