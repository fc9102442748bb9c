/**
 * PersistingBackend: LanceBackend plus a write-ahead log with group commit, compression of
 * data and WAL, schema evolution and Prometheus metrics.
 */
import {
  DEFAULT_COMPRESSION,
  DEFAULT_ENABLE_METRICS,
  DEFAULT_ENABLE_WAL,
  DEFAULT_MAX_WAL_SIZE,
  DEFAULT_WAL_RECOVERY_MODE,
  DEFAULT_WAL_SYNC_INTERVAL,
} from '../defaults.js'
import type { NativeBucketStore } from '../native.js'
import { PERSISTING_SCHEMA, type Compression, type PersistingBackendOptions } from '../options/backend-options.js'
import { checkOptions } from '../options/validate.js'
import { baseNativeOptions, NativeBackend } from './native-backend.js'

export type { PersistingBackendOptions } from '../options/backend-options.js'

export class PersistingBackend extends NativeBackend {
  readonly enableWal: boolean
  readonly compression: Compression | null
  readonly walSyncInterval: number

  constructor(options: PersistingBackendOptions) {
    checkOptions(options, PERSISTING_SCHEMA, 'PersistingBackend', ['storagePath'])
    super(options, 'persisting', () => ({
      ...baseNativeOptions(options, 'persisting'),
      evolveSchema: true,
      enableWal: options.enableWal ?? DEFAULT_ENABLE_WAL,
      walSyncInterval: options.walSyncInterval ?? DEFAULT_WAL_SYNC_INTERVAL,
      maxWalSize: options.maxWalSize ?? DEFAULT_MAX_WAL_SIZE,
      enableMetrics: options.enableMetrics ?? DEFAULT_ENABLE_METRICS,
      walRecoveryMode: options.walRecoveryMode ?? DEFAULT_WAL_RECOVERY_MODE,
    }))
    this.enableWal = options.enableWal ?? DEFAULT_ENABLE_WAL
    this.compression = options.compression ?? DEFAULT_COMPRESSION
    this.walSyncInterval = options.walSyncInterval ?? DEFAULT_WAL_SYNC_INTERVAL
  }

  /** A read-only view (get, getStream, stats, totalCount) of the data as it was at `version`. */
  async checkout(version: number): Promise<PersistingBackend> {
    return PersistingBackend.#fromCheckout(this, await this.checkoutStore(version))
  }

  static #fromCheckout(of: PersistingBackend, store: NativeBucketStore): PersistingBackend {
    return NativeBackend.adopting(
      store,
      () =>
        new PersistingBackend({
          bucketId: of.bucketId,
          storagePath: of.storagePath,
          batchSize: of.batchSize,
          compression: of.compression,
        }),
    )
  }
}
