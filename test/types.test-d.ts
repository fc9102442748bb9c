/**
 * Compile-time contract of the public types, checked by `vitest --typecheck` (enabled in
 * vitest.config.ts, so the default `npx vitest run` runs it). Bodies are type-checked, not run.
 */
import { describe, expectTypeOf, it } from 'vitest'
import * as pst from '../src/index.js'

interface MyEvent {
  id: string
  value: number
  tags?: string[]
}

describe('generic record types', () => {
  it('writeQueue<T> / readQueue<T> carry the record type to put, get and getStream', async () => {
    const system = await pst.createSystem()
    const writer = await pst.queue.writeQueue<MyEvent>(system, 'events', { numBuckets: 2 })
    expectTypeOf(writer).toEqualTypeOf<pst.QueueWriter<MyEvent>>()
    await writer.put({ id: 'a', value: 1 })
    await writer.put([{ id: 'a', value: 1, tags: ['x'] }])
    await writer.putBatch([{ id: 'b', value: 2 }])
    // @ts-expect-error value must be a number
    await writer.put({ id: 'a', value: 'one' })
    // @ts-expect-error id is required
    await writer.putBatch([{ value: 2 }])
    // @ts-expect-error not a field of MyEvent
    await writer.put({ id: 'a', value: 1, extra: true })

    const reader = await pst.queue.readQueue<MyEvent>(system, 'events')
    expectTypeOf(reader.get({ limit: 10 })).resolves.toEqualTypeOf<MyEvent[]>()
    for await (const r of reader.getStream({ block: true, timeout: 1 })) {
      expectTypeOf(r).toEqualTypeOf<MyEvent>()
      expectTypeOf(r.value).toBeNumber()
    }
    const viaSystem = await system.queue.read<MyEvent>('events')
    expectTypeOf(viaSystem).toEqualTypeOf<pst.QueueReader<MyEvent>>()
  })

  it('without a type argument records are plain Rows (backward compatible)', async () => {
    const system = await pst.createSystem()
    const writer = await pst.queue.writeQueue(system, 'raw')
    expectTypeOf(writer).toEqualTypeOf<pst.QueueWriter<pst.Row>>()
    await writer.put({ anything: 1, id: 'x' })
    const reader = await pst.queue.readQueue(system, 'raw')
    expectTypeOf(reader.get()).resolves.toEqualTypeOf<pst.Row[]>()
    expectTypeOf<pst.QueueWriter>().toEqualTypeOf<pst.QueueWriter<pst.Row>>()
  })
})

describe('option objects reject unknown keys at compile time', () => {
  it('writeQueue / readQueue / get / getStream / serveMetrics', async () => {
    const system = await pst.createSystem()
    // @ts-expect-error misspelt numBuckets
    await pst.queue.writeQueue(system, 't', { numBucket: 4 })
    // @ts-expect-error bucketId belongs to readers (writers take rank/worldSize)
    await pst.queue.writeQueue(system, 't', { bucketId: 0 })
    // @ts-expect-error misspelt worldSize
    await pst.queue.readQueue(system, 't', { rank: 0, worldsize: 2 })
    const reader = await pst.queue.readQueue(system, 't')
    // @ts-expect-error misspelt limit
    await reader.get({ limt: 5 })
    // @ts-expect-error getStream has no wait (it is block)
    reader.getStream({ wait: true })
    // @ts-expect-error misspelt port
    await pst.serveMetrics({ prot: 9464 })
    // @ts-expect-error the backend must be a name or a class
    await pst.queue.writeQueue(system, 't', { backend: 42 })
  })

  it('backend options are typed where declared', () => {
    new pst.PersistingBackend({ bucketId: 0, storagePath: '/tmp/x', enableWal: true, compression: 'zstd', walRecoveryMode: 'absolute' })
    // @ts-expect-error not a compression the core has
    new pst.PersistingBackend({ bucketId: 0, storagePath: '/tmp/x', compression: 'gzip' })
    // @ts-expect-error walSyncInterval is in seconds, a number
    new pst.PersistingBackend({ bucketId: 0, storagePath: '/tmp/x', walSyncInterval: '1s' })
    // @ts-expect-error not a recovery mode
    new pst.PersistingBackend({ bucketId: 0, storagePath: '/tmp/x', walRecoveryMode: 'lenient' })
  })
})

describe('error codes are a string-literal union', () => {
  it('err.code is StorageErrorCode, and a misspelt code does not compile', () => {
    expectTypeOf<pst.StorageError['code']>().toEqualTypeOf<pst.StorageErrorCode>()
    expectTypeOf<pst.WALError['code']>().toEqualTypeOf<pst.StorageErrorCode>()
    expectTypeOf<pst.StorageErrorCode>().toEqualTypeOf<(typeof pst.STORAGE_ERROR_CODES)[number]>()
    expectTypeOf<'WAL_LOCKED'>().toExtend<pst.StorageErrorCode>()
    expectTypeOf<'LOCKED'>().toExtend<pst.StorageErrorCode>()
    expectTypeOf<'WAL_CORRUPT'>().toExtend<pst.StorageErrorCode>()
    const err = new pst.StorageError('x', 'LOCKED')
    // @ts-expect-error no such code
    if (err.code === 'LOCKD') throw err
    // @ts-expect-error no such code
    new pst.StorageError('x', 'NOPE')
    const exhaustive = (code: pst.StorageErrorCode): number => {
      switch (code) {
        case 'INVALID_RECORD':
        case 'MISSING_BUCKET_COLUMN':
        case 'SCHEMA_MISMATCH':
          return 7
        case 'INVALID_OPTION':
        case 'UNKNOWN_BACKEND':
        case 'READ_ONLY':
        case 'NOT_OWNER':
          return 2
        case 'NOT_FOUND':
          return 3
        case 'LOCKED':
        case 'WAL_LOCKED':
          return 4
        case 'WAL_CORRUPT':
          return 5
        case 'IO':
        case 'WAL_IO':
        case 'BUCKET_FAILED':
          return 6
        case 'CLOSED':
        case 'LANCE':
        case 'INTERNAL':
          return 1
        default: {
          const never: never = code
          return never
        }
      }
    }
    expectTypeOf(exhaustive).returns.toBeNumber()
  })
})
