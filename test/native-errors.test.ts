/**
 * Typed errors across the binding: a native error carries the core's code as `.code` (set by
 * napi from the typed status, also on promise rejections) and a message without a `[CODE]`
 * prefix; fromNative builds StorageError / WALError from that code. Also: the TypeScript list
 * of codes matches the core's, and defaultOptions() exposes the core's defaults.
 */
import * as D from '../src/defaults.js'
import { describe, expect, it } from 'vitest'
import { native } from '../src/native.js'
import {
  fromNative,
  NATIVE_ERROR_CODES,
  StorageError,
  TS_ONLY_ERROR_CODES,
  WALError,
  type StorageErrorCode,
} from '../src/errors.js'
import { tmpDir } from './helpers/tmp.js'

function caught(f: () => unknown): Error & { code?: unknown } {
  try {
    f()
  } catch (err) {
    return err as Error & { code?: unknown }
  }
  throw new Error('expected a throw')
}

async function rejected(p: Promise<unknown>): Promise<Error & { code?: unknown }> {
  try {
    await p
  } catch (err) {
    return err as Error & { code?: unknown }
  }
  throw new Error('expected a rejection')
}

describe('native errors', () => {
  it('a synchronous failure carries the code and an unprefixed message', () => {
    const err = caught(() => native().NativeBucketStore.open({ storagePath: tmpDir(), flushThreshold: 0 }))
    expect(err).toBeInstanceOf(Error)
    expect(err.code).toBe('INVALID_OPTION')
    expect(err.message).toMatch(/^flushThreshold must be an integer from 1/)
    const typed = fromNative(err) as StorageError
    expect(typed).toBeInstanceOf(StorageError)
    expect(typed).not.toBeInstanceOf(WALError)
    expect(typed.code).toBe('INVALID_OPTION')
    expect(typed.message).toBe(err.message)
    expect(typed.cause).toBe(err)
  })

  it('a core error keeps its cause chain in the message', () => {
    const err = caught(() => native().NativeBucketStore.open({ storagePath: tmpDir(), compression: 'brotli' as 'zstd' }))
    expect(err.code).toBe('INVALID_OPTION')
    expect(err.message).toMatch(/^unknown compression 'brotli'/)
  })

  it('a promise rejection carries the code too (async fn)', async () => {
    const store = native().NativeBucketStore.open({ storagePath: tmpDir() })
    try {
      const err = await rejected(store.checkout(5))
      expect(err).toBeInstanceOf(Error)
      expect(err.code).toBe('NOT_FOUND')
      expect(err.message).toMatch(/^version 5 does not exist/)
      expect((fromNative(err) as StorageError).code).toBe('NOT_FOUND')
    } finally {
      await store.close()
    }
  })

  it('a read-only store refuses flush with READ_ONLY, as a rejection', async () => {
    const store = native().NativeBucketStore.open({ storagePath: tmpDir(), readOnly: true })
    const err = await rejected(store.flush())
    expect(err.code).toBe('READ_ONLY')
    expect(err.message.startsWith('[')).toBe(false)
    await store.close()
  })

  it('a second writer is WAL_LOCKED and becomes a WALError', async () => {
    const dir = tmpDir()
    const first = native().NativeBucketStore.open({ storagePath: dir, enableWal: true })
    try {
      const err = caught(() => native().NativeBucketStore.open({ storagePath: dir, enableWal: true }))
      expect(err.code).toBe('WAL_LOCKED')
      const typed = fromNative(err)
      expect(typed).toBeInstanceOf(WALError)
      expect((typed as WALError).code).toBe('WAL_LOCKED')
    } finally {
      await first.close()
    }
  })

  it('errors without a core code become INTERNAL', () => {
    const plain = new TypeError('Failed to convert JavaScript value')
    const typed = fromNative(plain) as StorageError
    expect(typed.code).toBe('INTERNAL')
    expect(typed.cause).toBe(plain)
    const foreign = Object.assign(new Error('odd'), { code: 'GenericFailure' })
    expect((fromNative(foreign) as StorageError).code).toBe('INTERNAL')
  })

  it('the TypeScript codes are exactly the core codes plus the TypeScript-only ones', () => {
    // src/errors.ts checks at compile time that StorageErrorCode is exactly these two lists.
    expect([...NATIVE_ERROR_CODES]).toEqual(native().errorCodes())
    const tsOnly: readonly StorageErrorCode[] = TS_ONLY_ERROR_CODES
    expect(tsOnly.filter((c) => native().errorCodes().includes(c))).toEqual([])
  })
})

describe('defaultOptions', () => {
  it('exposes the core defaults in the units of the TypeScript API', () => {
    expect(native().defaultOptions()).toEqual({
      batchSize: 100,
      flushThreshold: 1000,
      compactionThreshold: 64,
      enableWal: false,
      walSyncInterval: 1,
      maxWalSize: 100 * 1024 * 1024,
      compression: undefined,
      enableMetrics: false,
      evolveSchema: false,
      readOnly: false,
      walRecoveryMode: 'pointInTime',
      maxBufferBytes: 64 * 1024 * 1024,
      leaseTimeout: 30,
    })
  })

  it('the TypeScript defaults are the core defaults', () => {
    const core = native().defaultOptions()
    expect({
      batchSize: D.DEFAULT_BATCH_SIZE,
      flushThreshold: D.DEFAULT_FLUSH_THRESHOLD,
      enableWal: D.DEFAULT_ENABLE_WAL,
      walSyncInterval: D.DEFAULT_WAL_SYNC_INTERVAL,
      maxWalSize: D.DEFAULT_MAX_WAL_SIZE,
      enableMetrics: D.DEFAULT_ENABLE_METRICS,
      readOnly: D.DEFAULT_READ_ONLY,
      walRecoveryMode: D.DEFAULT_WAL_RECOVERY_MODE,
      maxBufferBytes: D.DEFAULT_MAX_BUFFER_BYTES,
      leaseTimeout: D.DEFAULT_LEASE_TIMEOUT,
    }).toEqual({
      batchSize: core.batchSize,
      flushThreshold: core.flushThreshold,
      enableWal: core.enableWal,
      walSyncInterval: core.walSyncInterval,
      maxWalSize: core.maxWalSize,
      enableMetrics: core.enableMetrics,
      readOnly: core.readOnly,
      walRecoveryMode: core.walRecoveryMode,
      maxBufferBytes: core.maxBufferBytes,
      leaseTimeout: core.leaseTimeout,
    })
    expect(D.DEFAULT_COMPRESSION ?? undefined).toBe(core.compression)
  })
})
