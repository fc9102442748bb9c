import { spawnSync } from 'node:child_process'
import * as fs from 'node:fs'
import * as path from 'node:path'
import { describe, expect, it } from 'vitest'
import { StorageError, WALError } from '../src/errors.js'
import { callNative } from '../src/native.js'
import { failedOpenStats, shapeStats } from '../src/backends/stats.js'
import type { NativeStats } from '../src/native.js'

/** A native error as the binding raises it (code on the error, and in the message's prefix). */
const nativeError = (code: string, message: string) => Object.assign(new Error(`[${code}] ${message}`), { code })

describe('callNative', () => {
  it('passes values and resolved promises through unchanged', async () => {
    expect(callNative(() => 42)).toBe(42)
    await expect(callNative(() => Promise.resolve('x'))).resolves.toBe('x')
  })

  it('a synchronous native throw becomes the typed error', () => {
    let caught: unknown
    try {
      callNative(() => {
        throw nativeError('WAL_LOCKED', 'held by pid 1')
      })
    } catch (err) {
      caught = err
    }
    expect(caught).toBeInstanceOf(WALError)
    expect((caught as WALError).code).toBe('WAL_LOCKED')
  })

  it('a rejected native promise becomes the typed error', async () => {
    const err = await callNative(() => Promise.reject(nativeError('SCHEMA_MISMATCH', 'field n'))).then(
      () => undefined,
      (e: unknown) => e,
    )
    expect(err).toBeInstanceOf(StorageError)
    expect(err).not.toBeInstanceOf(WALError)
    expect((err as StorageError).code).toBe('SCHEMA_MISMATCH')
  })

  it('an error without a code of ours is INTERNAL, keeping the original as cause', () => {
    const original = new TypeError('Failed to convert napi value')
    let caught: unknown
    try {
      callNative(() => {
        throw original
      })
    } catch (err) {
      caught = err
    }
    expect(caught).toBeInstanceOf(StorageError)
    expect((caught as StorageError).code).toBe('INTERNAL')
    expect((caught as StorageError).cause).toBe(original)
  })
})

describe('stats shaping', () => {
  const native: NativeStats = {
    bucketId: 9, // the backend's own bucketId wins
    totalCount: 10,
    bufferCount: 4,
    bufferBytes: 400,
    persistedCount: 6,
    storagePath: '/elsewhere',
    backend: 'x',
    walEnabled: true,
    walSize: 123,
    walFsyncs: 7,
    compression: 'zstd',
    fragments: 2,
    version: 3,
    diskBytes: 4096,
    walEvents: ['[WAL_CORRUPT] x'],
    readOnly: false,
  }

  it('LanceBackend stats: counts, path, dataset fields; no WAL fields', () => {
    expect(shapeStats('lance', 1, '/data/b1', native)).toEqual({
      bucketId: 1,
      totalCount: 10,
      bufferCount: 4,
      bufferBytes: 400,
      persistedCount: 6,
      storagePath: '/data/b1',
      backend: 'lance',
      version: 3,
      fragments: 2,
      diskBytes: 4096,
      readOnly: false,
    })
  })

  it('PersistingBackend stats add the WAL and compression; failures appear only when present', () => {
    const s = shapeStats('persisting', 1, '/data/b1', { ...native, compression: undefined, lastFlushError: 'disk full', failed: 'EIO' })
    expect(s).toEqual({
      bucketId: 1,
      totalCount: 10,
      bufferCount: 4,
      bufferBytes: 400,
      persistedCount: 6,
      storagePath: '/data/b1',
      backend: 'persisting',
      walEnabled: true,
      walSize: 123,
      walFsyncs: 7,
      walEvents: ['[WAL_CORRUPT] x'],
      compression: null,
      version: 3,
      fragments: 2,
      diskBytes: 4096,
      readOnly: false,
      lastFlushError: 'disk full',
      failed: 'EIO',
    })
  })

  it('a bucket whose open failed reports empty counts and why', () => {
    const s = shapeStats('persisting', 2, '/data/b2', failedOpenStats(2, '/data/b2', new StorageError('held elsewhere', 'WAL_LOCKED')))
    expect(s).toMatchObject({ bucketId: 2, totalCount: 0, bufferCount: 0, persistedCount: 0, backend: 'persisting', walEnabled: false })
    expect(s.failed).toBe('the bucket could not be opened: held elsewhere')
  })
})

describe('PERSISTING_NATIVE_LIBRARY_PATH', () => {
  // A child process imports the built package, so the variable is read at load time as a user's would be.
  const load = (file: string) =>
    spawnSync(process.execPath, ['--input-type=module', '-e', "const p = await import('./dist/index.js'); console.log(p.faultPoints().length)"], {
      cwd: path.resolve(__dirname, '..'),
      env: { ...process.env, PERSISTING_NATIVE_LIBRARY_PATH: file },
      encoding: 'utf8',
    })

  it('loads the addon from the given file, and only from it', () => {
    const built = fs.readdirSync(path.resolve(__dirname, '..')).find((f) => /^persisting\..*\.node$/.test(f))
    expect(built, 'the addon built by setup').toBeDefined()
    expect(load(path.resolve(__dirname, '..', built!)).status).toBe(0)
    const bad = load('/nonexistent/persisting.node')
    expect(bad.status).not.toBe(0)
    expect(bad.stderr).toMatch(/native addon could not be loaded/)
  })
})
