/** The queue system: system.queue, the pst.queue namespace, shutdown. */
import { describe, expect, it } from 'vitest'
import * as pst from '../../src/index.js'
import { bucketFor, readQueue, registerBackend, writeQueue } from '../../src/index.js'
import { ArrayBackend, collect, expectCode, rec, system, turns, useQueueSystem } from './helpers.js'

useQueueSystem()

describe('system', () => {
  it('system.queue.write / read open the same topic', async () => {
    const w = await system.queue.write('t', { numBuckets: 2 })
    const r = await system.queue.read('t')
    await w.put(rec('a', 1))
    expect(await r.get()).toEqual([rec('a', 1)])
  })

  it('pst.queue is the queue namespace', () => {
    expect(pst.queue.writeQueue).toBe(writeQueue)
    expect(pst.queue.readQueue).toBe(readQueue)
    expect(pst.queue.bucketFor).toBe(bucketFor)
    expect(pst.queue.registerBackend).toBe(registerBackend)
  })

  it('shutdown flushes and closes every bucket, ends blocked readers and refuses further use', async () => {
    const w = await writeQueue(system, 't', { backend: ArrayBackend, numBuckets: 2 })
    await w.putBatch(Array.from({ length: 10 }, (_, i) => rec(`k${i}`, i)))
    const r = await readQueue(system, 't')
    await r.get({ limit: 100 })
    const blocked = r.get({ wait: true })
    const stream = collect(r.getStream({ block: true }))
    await turns()
    await system.shutdown()
    expect(ArrayBackend.instances).toHaveLength(2)
    for (const b of ArrayBackend.instances) {
      expect(b.flushes).toBe(1)
      expect(b.closed).toBe(true)
    }
    expect(await blocked).toEqual([])
    expect(await stream).toEqual([])
    expect(system.closed).toBe(true)
    await expectCode(w.put(rec('late')), 'CLOSED')
    await expectCode(writeQueue(system, 'other'), 'CLOSED')
    await system.shutdown() // idempotent
    expect(ArrayBackend.instances.every((b) => b.flushes === 1)).toBe(true)
  })
})
