/** Routing by the bucket column (bucketFor) and writing through QueueWriter. */
import { describe, expect, it, vi } from 'vitest'
import { createHash } from 'node:crypto'
import { md5Digest } from '../../src/md5.js'
import { bucketFor, readQueue, writeQueue } from '../../src/index.js'
import { ArrayBackend, expectCode, rec, system, useQueueSystem } from './helpers.js'

useQueueSystem()

describe('bucketFor', () => {
  it('matches Python int(md5(str(v)).hexdigest(), 16) % n', () => {
    expect(bucketFor('test_value', 8)).toBe(7)
    expect(bucketFor('consistent_key', 32)).toBe(20)
    expect(bucketFor(1, 4)).toBe(3)
    expect(bucketFor('', 7)).toBe(1)
    expect(bucketFor('héllo', 1000003)).toBe(424193)
    expect(bucketFor('日本語', 13)).toBe(11)
    expect(bucketFor(12345678901234, 1000)).toBe(929)
    expect(bucketFor(-5, 97)).toBe(51)
  })

  it('stays exact for large bucket counts on both sides of the fast path', () => {
    expect(bucketFor('consistent_key', 2 ** 44)).toBe(9487608384980)
    expect(bucketFor('consistent_key', 2 ** 44 + 1)).toBe(10744488946401)
    expect(bucketFor('abc', 2 ** 40 + 5)).toBe(66900081262)
    expect(bucketFor('abc', 2 ** 50 + 3)).toBe(19652664990679)
    expect(bucketFor('abc', Number.MAX_SAFE_INTEGER)).toBe(7601352230504058)
  })

  it('its fast MD5 path gives the real MD5 digest (lengths around the one-block limit, non-ASCII)', () => {
    const samples: string[] = []
    for (let len = 0; len <= 70; len++) samples.push(Array.from({ length: len }, (_, i) => String.fromCharCode(33 + ((i * 7 + len) % 94))).join(''))
    samples.push('é', 'key-é', '日本語', '\u{1F600}', 'a'.repeat(55), 'a'.repeat(56), '\x7f', '\0')
    for (const text of samples) {
      expect(Buffer.from(md5Digest(text)).toString('hex'), JSON.stringify(text)).toBe(createHash('md5').update(text, 'utf8').digest('hex'))
    }
  })

  it('hashes null like Pulsing hashes None (as the empty string)', () => {
    expect(bucketFor(null, 7)).toBe(bucketFor('', 7))
  })

  it('is deterministic and stays in range', () => {
    for (let i = 0; i < 200; i++) {
      const b = bucketFor(`key-${i}`, 5)
      expect(b).toBe(bucketFor(`key-${i}`, 5))
      expect(b).toBeGreaterThanOrEqual(0)
      expect(b).toBeLessThan(5)
    }
    expect(bucketFor('anything', 1)).toBe(0)
  })

  it('rejects a bucket count that is not a positive integer', async () => {
    for (const n of [0, -1, 1.5, Number.NaN]) await expectCode(() => bucketFor('k', n), 'INVALID_OPTION')
  })
})

describe('writing', () => {
  it('routes by the bucket column: same key, same bucket; result names the bucket', async () => {
    const w = await writeQueue(system, 't', { numBuckets: 8 })
    const a = await w.put(rec('test_value', 1))
    const b = await w.put(rec('test_value', 2))
    expect(a).toEqual({ bucketId: 7, status: 'ok' })
    expect(b).toEqual({ bucketId: 7, status: 'ok' })
    const stats = await w.stats()
    expect(stats.buckets[7].totalCount).toBe(2)
    expect(stats.totalCount).toBe(2)
  })

  it('honours a custom bucket column', async () => {
    const w = await writeQueue(system, 't', { bucketColumn: 'user', numBuckets: 32 })
    expect(await w.put({ user: 'consistent_key', id: 'ignored' })).toEqual({ bucketId: 20, status: 'ok' })
  })

  it('put of an array returns one result per record, in order', async () => {
    const w = await writeQueue(system, 't', { numBuckets: 4 })
    const records = Array.from({ length: 20 }, (_, i) => rec(`k${i}`, i))
    const results = await w.put(records)
    expect(results).toEqual(records.map((r) => ({ bucketId: bucketFor(r.id, 4), status: 'ok' })))
    expect((await w.stats()).totalCount).toBe(20)
  })

  it('putBatch makes one backend putBatch call per bucket', async () => {
    const w = await writeQueue(system, 't', { numBuckets: 4, backend: ArrayBackend })
    const spy = vi.spyOn(ArrayBackend.prototype, 'putBatch')
    const records = Array.from({ length: 400 }, (_, i) => rec(`k${i}`, i))
    const result = await w.putBatch(records)
    expect(result.count).toBe(400)
    expect(spy).toHaveBeenCalledTimes(4)
    for (const inst of ArrayBackend.instances) {
      const id = inst.options.bucketId
      expect(inst.rows.map((r) => r.id)).toEqual(records.filter((r) => bucketFor(r.id, 4) === id).map((r) => r.id))
      expect(result.buckets[id]).toBe(inst.rows.length)
    }
  })

  it('spreads 1000 keys over 32 buckets, each bucket getting some', async () => {
    const w = await writeQueue(system, 't', { numBuckets: 32 })
    await w.putBatch(Array.from({ length: 1000 }, (_, i) => rec(`user-${i}`, i)))
    const stats = await w.stats()
    expect(Object.keys(stats.buckets)).toHaveLength(32)
    let sum = 0
    for (let id = 0; id < 32; id++) {
      expect(stats.buckets[id].totalCount).toBeGreaterThan(0)
      sum += stats.buckets[id].totalCount
    }
    expect(sum).toBe(1000)
    expect(stats).toMatchObject({ topic: 't', bucketColumn: 'id', numBuckets: 32, totalCount: 1000, bufferCount: 1000, persistedCount: 0 })
  })

  it('10 writers x 100 concurrent puts are all counted and all readable once', async () => {
    const writers = await Promise.all(Array.from({ length: 10 }, () => writeQueue(system, 't')))
    await Promise.all(
      writers.map(async (w, k) => {
        for (let i = 0; i < 100; i++) await w.put(rec(`w${k}-${i}`, k * 100 + i))
      }),
    )
    expect((await writers[0].stats()).totalCount).toBe(1000)
    const reader = await readQueue(system, 't')
    const got = await reader.get({ limit: 5000 })
    expect(got).toHaveLength(1000)
    expect(new Set(got.map((r) => r.id)).size).toBe(1000)
  })
})
