/**
 * PersistingBackend: LanceBackend plus a write-ahead log with group commit, compression of
 * data and WAL, schema evolution and Prometheus metrics.
 */
import type { NativeBucketStore } from '../native.js'
import { baseNativeOptions, checkOptions, NativeBackend, type OptionSpec } from './native-backend.js'
import { LANCE_OPTIONS } from './lance.js'
import type { BackendOptions, BackendStats } from './types.js'

const PERSISTING_OPTIONS: OptionSpec = {
  ...LANCE_OPTIONS,
  enableWal: 'bool',
  enableMetrics: 'bool',
  /** Seconds between background fsyncs; 0 = fsync (group commit) before every acknowledgement. */
  walSyncInterval: 'seconds',
  /** What recovery does with a damaged WAL: 'pointInTime' (default) or 'absolute'. */
  walRecoveryMode: 'recoveryMode',
  /** Bytes per WAL file before a flush and rotation are forced. */
  maxWalSize: 'posNumber',
}

export interface PersistingBackendOptions extends BackendOptions {
  flushThreshold?: number
  compactionThreshold?: number
  enableWal?: boolean
  compression?: 'zstd' | 'lz4' | 'snappy' | null
  enableMetrics?: boolean
  walSyncInterval?: number
  maxWalSize?: number
  /**
   * Damage found by WAL recovery. 'pointInTime' (default): keep everything before the first
   * damaged frame, move later segments into `wal/quarantine/`, report it in `stats().walEvents`
   * and open. 'absolute': refuse to open (WAL_CORRUPT naming file and offset) on any damage but
   * a torn tail of the newest segment.
   */
  walRecoveryMode?: 'pointInTime' | 'absolute'
  topic?: string
  /** Open as a reader: no lock, no WAL, no writes; sees what writers in any process flushed. Default false. */
  readOnly?: boolean
}

export class PersistingBackend extends NativeBackend {
  readonly enableWal: boolean
  readonly compression: string | null
  readonly walSyncInterval: number

  constructor(options: PersistingBackendOptions, view?: NativeBucketStore) {
    if (!view) checkOptions('PersistingBackend', options, PERSISTING_OPTIONS)
    super(
      options,
      view ?? {
        ...baseNativeOptions(options, 'persisting'),
        evolveSchema: true,
        enableWal: options.enableWal ?? false,
        walSyncInterval: options.walSyncInterval ?? 1.0,
        maxWalSize: options.maxWalSize ?? 100 * 1024 * 1024,
        enableMetrics: options.enableMetrics ?? false,
        walRecoveryMode: options.walRecoveryMode ?? 'pointInTime',
      },
    )
    this.enableWal = options.enableWal ?? false
    this.compression = options.compression ?? null
    this.walSyncInterval = options.walSyncInterval ?? 1.0
  }

  /** A read-only view (get, getStream, stats, totalCount) of the data as it was at `version`. */
  async checkout(version: number): Promise<PersistingBackend> {
    const store = await this.checkoutStore(version)
    return new PersistingBackend(
      { bucketId: this.bucketId, storagePath: this.storagePath, batchSize: this.batchSize, compression: this.compression as never },
      store,
    )
  }

  protected shapeStats(s: ReturnType<NativeBucketStore['stats']>): BackendStats {
    return {
      bucketId: this.bucketId,
      totalCount: s.totalCount,
      bufferCount: s.bufferCount,
      persistedCount: s.persistedCount,
      storagePath: this.storagePath,
      backend: 'persisting',
      walEnabled: s.walEnabled,
      walSize: s.walSize,
      walFsyncs: s.walFsyncs,
      walEvents: s.walEvents,
      compression: s.compression ?? null,
      version: s.version,
      fragments: s.fragments,
      diskBytes: s.diskBytes,
      readOnly: s.readOnly,
      ...(s.lastFlushError ? { lastFlushError: s.lastFlushError } : {}),
      ...(s.failed ? { failed: s.failed } : {}),
    }
  }
}
