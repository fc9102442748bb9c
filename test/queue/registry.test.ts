/** The backend registry: built-ins, registerBackend, getBackendClass. */
import { describe, expect, it } from 'vitest'
import * as pst from '../../src/index.js'
import { MemoryBackend, bucketFor, getBackendClass, listBackends, readQueue, registerBackend, writeQueue } from '../../src/index.js'
import { ArrayBackend, dir, expectCode, rec, system, useQueueSystem } from './helpers.js'

useQueueSystem()

describe('backend registry', () => {
  it('has memory, lance and persisting out of the box', () => {
    expect(listBackends()).toEqual(expect.arrayContaining(['memory', 'lance', 'persisting']))
    expect(getBackendClass('memory')).toBe(MemoryBackend)
    expect(getBackendClass('lance')).toBe(pst.LanceBackend)
    expect(getBackendClass('persisting')).toBe(pst.PersistingBackend)
  })

  it('registerBackend rejects non-classes with TypeError', () => {
    for (const bad of [42, 'MemoryBackend', null, undefined, {}, () => ({}), async function f() {}]) {
      expect(() => registerBackend('bad', bad as never)).toThrow(TypeError)
    }
    expect(() => registerBackend('', MemoryBackend)).toThrow(TypeError)
    expect(listBackends()).not.toContain('bad')
  })

  it('a registered class is used by name and by class, with the documented constructor options', async () => {
    registerBackend('array', ArrayBackend)
    expect(listBackends()).toContain('array')
    expect(getBackendClass('array')).toBe(ArrayBackend)

    const byName = await writeQueue(system, 'named', {
      backend: 'array',
      numBuckets: 2,
      batchSize: 7,
      storagePath: `${dir}/named`,
      backendOptions: { flavour: 'x' },
    })
    await byName.putBatch(Array.from({ length: 20 }, (_, i) => rec(`k${i}`, i)))
    expect(ArrayBackend.instances.map((b) => b.options).sort((a, b) => a.bucketId - b.bucketId)).toEqual([
      { bucketId: 0, storagePath: `${dir}/named/bucket_0`, batchSize: 7, flavour: 'x' },
      { bucketId: 1, storagePath: `${dir}/named/bucket_1`, batchSize: 7, flavour: 'x' },
    ])
    expect(ArrayBackend.instances.reduce((n, b) => n + b.rows.length, 0)).toBe(20)

    ArrayBackend.instances = []
    const byClass = await writeQueue(system, 'classy', { backend: ArrayBackend, numBuckets: 1 })
    await byClass.put(rec('a'))
    expect(ArrayBackend.instances).toHaveLength(1)
    expect(ArrayBackend.instances[0].options).toEqual({ bucketId: 0, storagePath: './queue_storage/classy/bucket_0', batchSize: 100 })
    expect((await byClass.stats()).buckets[0].backend).toBe('array')
  })

  it('built-ins can be registered again under another name', async () => {
    registerBackend('mem2', MemoryBackend)
    const w = await writeQueue(system, 't', { backend: 'mem2' })
    await w.put(rec('a'))
    expect((await w.stats()).buckets[bucketFor('a', 4)].backend).toBe('memory')
  })

  it('getBackendClass also accepts a class and returns it as is, without registering it', async () => {
    expect(getBackendClass(ArrayBackend)).toBe(ArrayBackend)
    expect(getBackendClass(MemoryBackend)).toBe(MemoryBackend)
    expect(getBackendClass(pst.PersistingBackend)).toBe(pst.PersistingBackend)
    expect(listBackends()).not.toContain('ArrayBackend')
    for (const bad of [42, null, undefined, {}, () => ({})]) {
      await expectCode(() => getBackendClass(bad as never), 'UNKNOWN_BACKEND')
    }
  })

  it('a user class declaring capabilities gets topic, and readers are opened with readOnly', async () => {
    class TopicAware extends ArrayBackend {
      static readonly capabilities = { topic: true, readOnly: true }
    }
    const w = await writeQueue(system, 'aware', { backend: TopicAware, numBuckets: 1 })
    await readQueue(system, 'other', { backend: TopicAware, numBuckets: 1 }).then((r) => r.get())
    await w.put(rec('a'))
    const opts = ArrayBackend.instances.map((b) => b.options)
    expect(opts).toEqual([
      { bucketId: 0, storagePath: './queue_storage/other/bucket_0', batchSize: 100, topic: 'other', readOnly: true },
      { bucketId: 0, storagePath: './queue_storage/aware/bucket_0', batchSize: 100, topic: 'aware' },
    ])
  })
})
