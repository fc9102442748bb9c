import { describe, expect, it } from 'vitest'
import { deadlineAfter, notifierFeed, readOrWait, streamRows, type ChangeFeed } from '../src/blocking-read.js'
import { Notifier } from '../src/notifier.js'

const tick = (): Promise<void> => new Promise((r) => setImmediate(r))

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = []
  for await (const x of it) out.push(x)
  return out
}

/** An append-only list with a notifier, recording every read. */
class Source {
  readonly rows: number[] = []
  readonly notifier = new Notifier()
  readonly reads: { pos: number; n: number }[] = []
  append(...xs: number[]): void {
    this.rows.push(...xs)
    this.notifier.notify()
  }
  read = async (pos: number, n: number): Promise<number[]> => {
    this.reads.push({ pos, n })
    return this.rows.slice(pos, pos + n)
  }
}

describe('readOrWait', () => {
  it('returns a non-empty read at once, and an empty one at once without wait', async () => {
    const src = new Source()
    const feed = notifierFeed([src.notifier])
    expect(await readOrWait(() => src.read(0, 10), feed, { wait: false })).toEqual([])
    src.append(1, 2)
    expect(await readOrWait(() => src.read(0, 10), feed, { wait: true })).toEqual([1, 2])
    expect(src.reads).toHaveLength(2)
  })

  it('waits for a change, then reads again', async () => {
    const src = new Source()
    let done = false
    const p = readOrWait(() => src.read(0, 10), notifierFeed([src.notifier]), { wait: true }).then((r) => {
      done = true
      return r
    })
    await tick()
    expect(done).toBe(false)
    src.append(7)
    expect(await p).toEqual([7])
    expect(src.reads).toHaveLength(2)
  })

  it('does not lose a change made while the read runs (marked before reading)', async () => {
    const src = new Source()
    let first = true
    const read = async (): Promise<number[]> => {
      const rows = src.rows.slice()
      if (first) {
        first = false
        src.append(1) // lands after this read looked, before it returned
      }
      return rows
    }
    const feed = notifierFeed([src.notifier])
    expect(await readOrWait(read, feed, { wait: true, deadline: deadlineAfter(5_000) })).toEqual([1])
  })

  it('gives up with the empty result at the deadline, on abort and on close', async () => {
    const src = new Source()
    const feed = notifierFeed([src.notifier])
    const started = performance.now()
    expect(await readOrWait(() => src.read(0, 1), feed, { wait: true, deadline: deadlineAfter(30) })).toEqual([])
    expect(performance.now() - started).toBeGreaterThanOrEqual(25)

    const ac = new AbortController()
    const aborted = readOrWait(() => src.read(0, 1), feed, { wait: true, signal: ac.signal })
    await tick()
    ac.abort()
    expect(await aborted).toEqual([])

    const closed = readOrWait(() => src.read(0, 1), feed, { wait: true })
    await tick()
    src.notifier.close()
    expect(await closed).toEqual([])
  })

  it('uses isEmpty for results that are not arrays, and passes the mark to wait', async () => {
    const marks: number[] = []
    let n = 0
    const feed: ChangeFeed<number> = {
      mark: () => n,
      wait: async (m) => {
        marks.push(m)
        n++
        return 'notified'
      },
    }
    const got = await readOrWait(async () => ({ count: n }), feed, { wait: true, isEmpty: (r) => r.count < 3 })
    expect(got).toEqual({ count: 3 })
    expect(marks).toEqual([0, 1, 2])
  })
})

describe('streamRows', () => {
  it('without block ends when caught up and respects limit', async () => {
    const src = new Source()
    src.append(...Array.from({ length: 10 }, (_, i) => i))
    const feed = notifierFeed([src.notifier])
    expect(await collect(streamRows({ read: src.read, feed, chunk: 3 }, 0, 4, false))).toEqual([0, 1, 2, 3])
    expect(await collect(streamRows({ read: src.read, feed, chunk: 3 }, 8, null, false))).toEqual([8, 9])
    expect(await collect(streamRows({ read: src.read, feed, chunk: 3 }, 10, null, false))).toEqual([])
    expect(await collect(streamRows({ read: src.read, feed, chunk: 3 }, 0, 0, false))).toEqual([])
  })

  it('with block waits for appended rows and ends at limit or on close', async () => {
    const src = new Source()
    const feed = notifierFeed([src.notifier])
    const limited = collect(streamRows({ read: src.read, feed }, 0, 3, true))
    const open = collect(streamRows({ read: src.read, feed }, 0, null, true))
    await tick()
    src.append(1)
    await tick()
    src.append(2, 3, 4)
    expect(await limited).toEqual([1, 2, 3])
    await tick()
    src.notifier.close()
    expect(await open).toEqual([1, 2, 3, 4])
  })

  it('grows the chunk up to maxChunk and prefetches only when more rows are known to exist', async () => {
    const src = new Source()
    src.append(...Array.from({ length: 30 }, (_, i) => i))
    const feed = notifierFeed([src.notifier])
    const got = await collect(
      streamRows({ read: src.read, feed, chunk: 2, maxChunk: 8, hasMore: (pos) => pos < src.rows.length }, 0, null, false),
    )
    expect(got).toEqual(src.rows)
    expect(src.reads.map((r) => r.n)).toEqual([2, 4, 8, 8, 8, 8])
    expect(src.reads.map((r) => r.pos)).toEqual([0, 2, 6, 14, 22, 30])
  })
})
