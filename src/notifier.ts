/**
 * Wake-ups for blocking reads without polling. A writer calls notify() after its put is
 * acknowledged; blocked readers wait on one or more notifiers, a timeout and/or an AbortSignal.
 *
 * Lost wake-ups are avoided with a version counter: a reader captures `version` before it
 * reads, and waitForAny() returns at once if any version moved since then.
 */

const MAX_TIMER_MS = 2 ** 31 - 1

export type WaitOutcome = 'notified' | 'closed' | 'timeout' | 'aborted'

export class Notifier {
  private seq = 0
  private isClosed = false
  // Listeners are one-shot; a Set lets a waiter that gives up (timeout/abort/another
  // notifier fired) remove itself, so idle notifiers never accumulate dead callbacks.
  private listeners = new Set<() => void>()

  get version(): number {
    return this.seq
  }

  get closed(): boolean {
    return this.isClosed
  }

  notify(): void {
    this.seq++
    if (this.listeners.size === 0) return
    const fire = this.listeners
    this.listeners = new Set()
    for (const fn of fire) fn()
  }

  /** Wakes every waiter now and makes later waits return 'closed' immediately. */
  close(): void {
    this.isClosed = true
    this.notify()
  }

  /** Registers a one-shot callback; returns its removal. */
  subscribe(fn: () => void): () => void {
    this.listeners.add(fn)
    return () => {
      this.listeners.delete(fn)
    }
  }
}

export interface WaitOptions {
  /** Versions captured before the caller last looked for data (same order as the notifiers). */
  since?: readonly number[]
  /** Give up after this many milliseconds; undefined waits without any timer. */
  timeoutMs?: number
  signal?: AbortSignal
}

/**
 * Resolves when any notifier fires (or has fired since `since`), one is closed, the timeout
 * passes or the signal aborts. Subscriptions happen synchronously in this call, so checking
 * for data and then calling this in the same tick cannot miss a notification.
 */
export function waitForAny(notifiers: readonly Notifier[], options: WaitOptions = {}): Promise<WaitOutcome> {
  const { since, timeoutMs, signal } = options
  if (signal?.aborted) return Promise.resolve('aborted')
  for (let i = 0; i < notifiers.length; i++) {
    if (notifiers[i].closed) return Promise.resolve('closed')
    if (since !== undefined && notifiers[i].version !== since[i]) return Promise.resolve('notified')
  }
  if (timeoutMs !== undefined && timeoutMs <= 0) return Promise.resolve('timeout')

  return new Promise<WaitOutcome>((resolve) => {
    const unsubscribers: Array<() => void> = []
    let timer: NodeJS.Timeout | undefined
    let done = false
    const finish = (outcome: WaitOutcome): void => {
      if (done) return
      done = true
      for (const off of unsubscribers) off()
      if (timer !== undefined) clearTimeout(timer)
      signal?.removeEventListener('abort', onAbort)
      resolve(outcome)
    }
    const onAbort = (): void => finish('aborted')
    for (const n of notifiers) unsubscribers.push(n.subscribe(() => finish(n.closed ? 'closed' : 'notified')))
    if (timeoutMs !== undefined && Number.isFinite(timeoutMs)) {
      // Node fires longer timers at once; past the cap report a spurious wake-up so the
      // caller, which loops on 'notified' and recomputes its deadline, simply waits again.
      const capped = timeoutMs > MAX_TIMER_MS
      timer = setTimeout(() => finish(capped ? 'notified' : 'timeout'), capped ? MAX_TIMER_MS : timeoutMs)
    }
    signal?.addEventListener('abort', onAbort, { once: true })
  })
}
