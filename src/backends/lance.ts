/** LanceBackend: memory buffer + append-only Lance dataset at `${storagePath}/data.lance`. */
import type { NativeBucketStore } from '../native.js'
import { baseNativeOptions, checkOptions, NativeBackend, type OptionSpec } from './native-backend.js'
import type { BackendOptions, BackendStats } from './types.js'

export const LANCE_OPTIONS: OptionSpec = {
  bucketId: 'int',
  storagePath: 'string',
  batchSize: 'posInt',
  flushThreshold: 'posInt',
  /** Fragments past which a flush also compacts (0 disables). */
  compactionThreshold: 'nonNegInt',
  /** Page compression of the stored columns. */
  compression: 'compression',
  topic: 'string',
  /** A reader: no lock, no writes; reads what a writer (any process) flushed. */
  readOnly: 'bool',
}

export interface LanceBackendOptions extends BackendOptions {
  flushThreshold?: number
  compactionThreshold?: number
  compression?: 'zstd' | 'lz4' | 'snappy' | null
  topic?: string
  /** Open as a reader: no lock, no writes; sees what writers in any process flushed. Default false. */
  readOnly?: boolean
}

export class LanceBackend extends NativeBackend {
  readonly flushThreshold: number

  constructor(options: LanceBackendOptions, view?: NativeBucketStore) {
    if (!view) checkOptions('LanceBackend', options, LANCE_OPTIONS)
    super(
      options,
      view ?? { ...baseNativeOptions(options, 'lance'), evolveSchema: false },
    )
    this.flushThreshold = options.flushThreshold ?? 1000
  }

  /** A read-only view (get, getStream, stats, totalCount) of the data as it was at `version`. */
  async checkout(version: number): Promise<LanceBackend> {
    const store = await this.checkoutStore(version)
    return new LanceBackend({ bucketId: this.bucketId, storagePath: this.storagePath, batchSize: this.batchSize }, store)
  }

  protected shapeStats(s: ReturnType<NativeBucketStore['stats']>): BackendStats {
    return {
      bucketId: this.bucketId,
      totalCount: s.totalCount,
      bufferCount: s.bufferCount,
      persistedCount: s.persistedCount,
      storagePath: this.storagePath,
      backend: 'lance',
      version: s.version,
      fragments: s.fragments,
      diskBytes: s.diskBytes,
      readOnly: s.readOnly,
      ...(s.lastFlushError ? { lastFlushError: s.lastFlushError } : {}),
      ...(s.failed ? { failed: s.failed } : {}),
    }
  }
}
