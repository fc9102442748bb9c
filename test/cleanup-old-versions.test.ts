// cleanupOldVersions(): old Lance versions and the files only they name leave the disk; the
// stored records, the latest version and the WAL's unflushed records stay.
import * as path from 'node:path'
import { describe, expect, it } from 'vitest'
import { LanceBackend } from '../src/backends/lance.js'
import { PersistingBackend } from '../src/backends/persisting.js'
import { recs } from './backend-contract.js'
import { listFiles, tmpDir } from './helpers/tmp.js'

const makers = {
  lance: (dir: string, extra = {}) => new LanceBackend({ bucketId: 0, storagePath: dir, compactionThreshold: 0, ...extra }),
  persisting: (dir: string, extra = {}) =>
    new PersistingBackend({ bucketId: 0, storagePath: dir, compactionThreshold: 0, enableWal: true, walSyncInterval: 0, ...extra }),
}

const dataFiles = (dir: string) => [...listFiles(path.join(dir, 'data.lance', 'data')).keys()]

type Backend = LanceBackend | PersistingBackend

/** Puts `sizes` consecutive batches of records, each followed by a flush (a version each). */
async function flushedBatches(b: Backend, ...sizes: number[]): Promise<void> {
  let from = 0
  for (const n of sizes) {
    await b.putBatch(recs(from, n))
    await b.flush()
    from += n
  }
}

/** Closes `b`, reopens its directory and checks it holds exactly records 0..n-1, in order. */
async function reopenHolds(b: Backend, make: (dir: string) => Backend, dir: string, n: number): Promise<void> {
  await b.close()
  const again = make(dir)
  expect(again.totalCount()).toBe(n)
  expect(await again.get(0, 1000)).toEqual(recs(0, n))
  await again.close()
}

describe.each(Object.entries(makers))('%s: cleanupOldVersions', (_name, make) => {
  it('removes every version but the latest, and the data files compaction replaced; records stay', async () => {
    const dir = tmpDir()
    const b = make(dir)
    await flushedBatches(b, 50, 50, 50, 50)
    const compacted = await b.compact()
    expect(compacted.fragmentsRemoved).toBeGreaterThan(1)
    const before = await b.versions()
    const filesBefore = dataFiles(dir)
    const diskBefore = Number((await b.stats()).diskBytes)

    // The default keeps a week of versions: everything here is younger.
    expect(await b.cleanupOldVersions()).toEqual({ versionsRemoved: 0, bytesRemoved: 0 })
    expect(await b.cleanupOldVersions({ olderThan: Infinity })).toEqual({ versionsRemoved: 0, bytesRemoved: 0 })
    expect(await b.versions()).toEqual(before)

    const r = await b.cleanupOldVersions({ olderThan: 0 })
    expect(r.versionsRemoved).toBe(before.length - 1)
    expect(r.bytesRemoved).toBeGreaterThan(0)
    expect(await b.versions()).toEqual(before.slice(-1))
    // The four flushed fragments' files went with the versions that named them.
    const filesAfter = dataFiles(dir)
    expect(filesAfter.length).toBeLessThan(filesBefore.length)
    expect(filesAfter.every((f) => filesBefore.includes(f))).toBe(true)
    expect(Number((await b.stats()).diskBytes)).toBeLessThan(diskBefore)

    expect(await b.get(0, 1000)).toEqual(recs(0, 200))
    await expect(b.checkout(before[0].version)).rejects.toMatchObject({ code: 'NOT_FOUND' })
    const latest = await b.checkout(before.at(-1)!.version)
    expect(await latest.get(0, 1000)).toEqual(recs(0, 200))

    // Writing goes on; a reopen sees every record once.
    await b.putBatch(recs(200, 25))
    await b.flush()
    await reopenHolds(b, make, dir, 225)
  })

  it('keeps what a flush has not written yet', async () => {
    const dir = tmpDir()
    const b = make(dir)
    await flushedBatches(b, 40, 40)
    await b.putBatch(recs(80, 15)) // buffered (and in the WAL for PersistingBackend)
    const r = await b.cleanupOldVersions({ olderThan: 0 })
    expect(r.versionsRemoved).toBeGreaterThan(0)
    expect(await b.get(0, 1000)).toEqual(recs(0, 95))
    await reopenHolds(b, make, dir, 95)
  })

  it('runs beside writes, flushes and compactions without losing or repeating a record', async () => {
    const dir = tmpDir()
    const b = make(dir, { flushThreshold: 20, compactionThreshold: 3 })
    let writing = true
    const writes = (async () => {
      for (let i = 0; i < 40; i++) {
        await b.putBatch(recs(i * 10, 10))
        if (i % 4 === 0) await b.flush()
      }
      writing = false
    })()
    let cleanups = 0
    const cleaner = (async () => {
      while (writing) {
        await b.cleanupOldVersions({ olderThan: 0 })
        cleanups++
        await new Promise((r) => setTimeout(r, 1))
      }
    })()
    await Promise.all([writes, cleaner])
    await b.flush()
    expect(cleanups).toBeGreaterThan(0)
    await b.cleanupOldVersions({ olderThan: 0 })
    expect(await b.versions()).toHaveLength(1)
    expect(await b.get(0, 1000)).toEqual(recs(0, 400))
    await reopenHolds(b, make, dir, 400)
  })

  it('is refused with a typed error: read-only views, readers, bad options', async () => {
    const dir = tmpDir()
    const b = make(dir)
    await flushedBatches(b, 10, 10)
    const [first] = await b.versions()
    const view = await b.checkout(first.version)
    await expect(view.cleanupOldVersions({ olderThan: 0 })).rejects.toMatchObject({ name: 'StorageError', code: 'READ_ONLY' })
    const reader = make(dir, _name === 'lance' ? { readOnly: true } : { readOnly: true, enableWal: false })
    await expect(reader.cleanupOldVersions({ olderThan: 0 })).rejects.toMatchObject({ name: 'StorageError', code: 'READ_ONLY' })
    await reader.close()
    for (const bad of [-1, Number.NaN, '60', null]) {
      await expect(b.cleanupOldVersions({ olderThan: bad as number })).rejects.toMatchObject({ name: 'StorageError', code: 'INVALID_OPTION' })
    }
    await expect(b.cleanupOldVersions({ keep: 3 } as never)).rejects.toMatchObject({ code: 'INVALID_OPTION' })
    // Nothing was removed by the refused calls.
    expect((await b.versions()).length).toBeGreaterThanOrEqual(2)
    expect(await b.get(0, 100)).toEqual(recs(0, 20))
    await b.close()
  })
})
