/**
 * A blocking stream on the writer's own backend wakes on the put itself (no native wait) and
 * reads rows still in the buffer at once; rows move to Lance under it (flushes every few
 * records) and, with walSyncInterval 0, appear only once durable. Every record exactly once,
 * in order, on real data (vega-datasets flights).
 */
import { describe, expect, it } from 'vitest'
import { vegaJson } from './helpers/datasets.js'
import { LanceBackend } from '../src/backends/lance.js'
import { PersistingBackend } from '../src/backends/persisting.js'
import type { Row } from '../src/types.js'
import { tmpDir } from './helpers/tmp.js'

const flights = vegaJson<Row>('flights-2k.json').slice(0, 600)

const MAKERS = [
  ['persisting, walSyncInterval 0', (dir: string) => new PersistingBackend({ bucketId: 0, storagePath: dir, enableWal: true, walSyncInterval: 0, flushThreshold: 7 })],
  ['persisting, walSyncInterval 0.05', (dir: string) => new PersistingBackend({ bucketId: 0, storagePath: dir, enableWal: true, walSyncInterval: 0.05, flushThreshold: 13 })],
  ['lance', (dir: string) => new LanceBackend({ bucketId: 0, storagePath: dir, flushThreshold: 5 })],
] as const

describe('tailing a writer in the same process', () => {
  for (const [name, make] of MAKERS) {
    it(`${name}: two blocking streams see every put once, in order, across flushes`, async () => {
      const b = make(tmpDir())
      const streams = [0, 1].map(async () => {
        const got: Row[] = []
        for await (const r of b.getStream(0, flights.length, true)) got.push(r)
        return got
      })
      let i = 0
      while (i < flights.length) {
        const n = 1 + (i % 9)
        if (n === 1) await b.put(flights[i])
        else await b.putBatch(flights.slice(i, i + n))
        i += n
        if (i % 5 === 0) await new Promise((r) => setTimeout(r, 1))
      }
      for (const got of await Promise.all(streams)) expect(got).toEqual(flights)
      // A stream started at the head gets the next put, and a close ends a waiting one.
      const next = b.getStream(flights.length, null, true)[Symbol.asyncIterator]()
      const first = next.next()
      await b.put({ date: 'x', delay: 1, distance: 2, origin: 'A', destination: 'B' })
      expect((await first).value).toMatchObject({ origin: 'A' })
      const waiting = next.next()
      await b.close()
      expect((await waiting).done).toBe(true)
    })
  }
})
