/**
 * `persisting_reader_lag_records`: records a reader has not read yet per bucket, as scraped.
 */
import { describe, expect, it } from 'vitest'
import * as pst from '../src/index.js'
import { tmpDir } from './helpers/tmp.js'

function lagOf(text: string, topic: string, bucket: number): number | undefined {
  const m = new RegExp(`^persisting_reader_lag_records\\{topic="${topic}",bucket="${bucket}"\\} (\\d+)$`, 'm').exec(text)
  return m ? Number(m[1]) : undefined
}

describe('reader lag metric', () => {
  it('is the head minus the offset, per bucket, and follows reads and writes', async () => {
    const system = await pst.createSystem()
    const opts = { backend: 'persisting', storagePath: tmpDir(), numBuckets: 2, backendOptions: { enableMetrics: true } } as const
    const w = await pst.writeQueue(system, 'lagging', opts)
    await w.putBatch(Array.from({ length: 100 }, (_, i) => ({ id: `k${i}`, i })))
    const r = await pst.readQueue(system, 'lagging', { ...opts, bucketId: 0 })
    const head0 = (await w.stats()).buckets[0].totalCount as number
    expect(head0).toBeGreaterThan(10)
    await r.get({ limit: 10 })
    let text = await pst.metrics()
    expect(text).toContain('# TYPE persisting_reader_lag_records gauge')
    expect(lagOf(text, 'lagging', 0)).toBe(head0 - 10)
    expect(lagOf(text, 'lagging', 1)).toBeUndefined() // not this reader's bucket
    await w.putBatch(Array.from({ length: 50 }, (_, i) => ({ id: `k${i}`, i })))
    const head1 = (await w.stats()).buckets[0].totalCount as number
    text = await pst.metrics()
    expect(lagOf(text, 'lagging', 0)).toBe(head1 - 10)
    await r.get({ limit: 1000 })
    expect(lagOf(await pst.metrics(), 'lagging', 0)).toBe(0)
    await system.shutdown()
  })

  it('reports nothing for topics without enableMetrics', async () => {
    const system = await pst.createSystem()
    const opts = { backend: 'persisting', storagePath: tmpDir(), numBuckets: 1 } as const
    const w = await pst.writeQueue(system, 'quiet-lag', opts)
    await w.put({ id: 'a' })
    const r = await pst.readQueue(system, 'quiet-lag', opts)
    await r.get({ limit: 0 })
    expect(await pst.metrics()).not.toContain('quiet-lag')
    await system.shutdown()
  })
})
