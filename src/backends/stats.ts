/** Shapes the core's stats into each native backend's documented `BackendStats`. */
import type { NativeStats } from '../native.js'
import type { BackendStats } from './types.js'

/** Which backend's shape: LanceBackend's, or PersistingBackend's (adds the WAL and compression). */
export type StatsShape = 'lance' | 'persisting'

/** Stats of a bucket whose open failed: empty counts and `failed` saying why. */
export function failedOpenStats(bucketId: number, storagePath: string, openError: unknown): NativeStats {
  const why = openError instanceof Error ? openError.message : String(openError)
  return {
    bucketId, totalCount: 0, bufferCount: 0, bufferBytes: 0, persistedCount: 0, storagePath,
    backend: '', walEnabled: false, walSize: 0, walFsyncs: 0, fragments: 0, version: 0, diskBytes: 0,
    walEvents: [], readOnly: false, failed: `the bucket could not be opened: ${why}`,
  }
}

export function shapeStats(shape: StatsShape, bucketId: number, storagePath: string, s: NativeStats): BackendStats {
  const counts = {
    bucketId,
    totalCount: s.totalCount,
    bufferCount: s.bufferCount,
    bufferBytes: s.bufferBytes,
    persistedCount: s.persistedCount,
    storagePath,
    backend: shape,
  }
  const wal =
    shape === 'persisting'
      ? { walEnabled: s.walEnabled, walSize: s.walSize, walFsyncs: s.walFsyncs, walEvents: s.walEvents, compression: s.compression ?? null }
      : {}
  return {
    ...counts,
    ...wal,
    version: s.version,
    fragments: s.fragments,
    diskBytes: s.diskBytes,
    readOnly: s.readOnly,
    ...(s.lastFlushError ? { lastFlushError: s.lastFlushError } : {}),
    ...(s.failed ? { failed: s.failed } : {}),
  }
}
