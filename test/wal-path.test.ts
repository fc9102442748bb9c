/**
 * `walPath` on local disk: the WAL lives there, the bucket stays locked where its data is, and
 * one WAL directory cannot serve two buckets.
 */
import * as fs from 'node:fs'
import * as path from 'node:path'
import { describe, expect, it } from 'vitest'
import { PersistingBackend } from '../src/backends/persisting.js'
import { StorageError } from '../src/errors.js'
import { tmpDir } from './helpers/tmp.js'

async function refusal(fn: () => unknown): Promise<StorageError> {
  try {
    await fn()
  } catch (e) {
    return e as StorageError
  }
  throw new Error('expected an error')
}

describe('walPath on local disk', () => {
  it('keeps the WAL there and replays it on reopen', async () => {
    const storagePath = tmpDir()
    const walPath = path.join(tmpDir(), 'wal-of-bucket')
    const opts = { bucketId: 0, storagePath, walPath, enableWal: true, walSyncInterval: 0, flushThreshold: 1000 }
    const a = new PersistingBackend(opts)
    await a.putBatch(Array.from({ length: 50 }, (_, i) => ({ id: i, s: `r${i}` })))
    expect(fs.readdirSync(path.join(walPath, 'wal')).some((f) => f.startsWith('wal-'))).toBe(true)
    expect(fs.existsSync(path.join(storagePath, 'wal'))).toBe(false)
    await a.close()
    const again = new PersistingBackend(opts)
    expect(again.totalCount()).toBe(50)
    expect((await again.get(49, 1))[0]).toEqual({ id: 49, s: 'r49' })
    await again.close()
  })

  it('a second writer of the bucket is refused with or without walPath, and two buckets cannot share one walPath', async () => {
    const storagePath = tmpDir()
    const walPath = tmpDir()
    const a = new PersistingBackend({ bucketId: 0, storagePath, walPath, enableWal: true })
    await a.put({ id: 1 })
    const noWalPath = new PersistingBackend({ bucketId: 0, storagePath, enableWal: true })
    expect((await refusal(() => noWalPath.put({ id: 2 }))).code).toBe('WAL_LOCKED')
    const sameWal = new PersistingBackend({ bucketId: 1, storagePath: tmpDir(), walPath, enableWal: true })
    expect((await refusal(() => sameWal.put({ id: 3 }))).code).toBe('WAL_LOCKED')
    await Promise.all([noWalPath.close(), sameWal.close(), a.close()])
  })
})
