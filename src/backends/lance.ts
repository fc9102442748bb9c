/** LanceBackend: memory buffer + append-only Lance dataset at `${storagePath}/data.lance`. */
import { DEFAULT_FLUSH_THRESHOLD } from '../defaults.js'
import type { NativeBucketStore } from '../native.js'
import { LANCE_SCHEMA, type LanceBackendOptions } from '../options/backend-options.js'
import { checkOptions } from '../options/validate.js'
import { baseNativeOptions, NativeBackend } from './native-backend.js'

export type { LanceBackendOptions } from '../options/backend-options.js'

export class LanceBackend extends NativeBackend {
  readonly flushThreshold: number

  constructor(options: LanceBackendOptions) {
    checkOptions(options, LANCE_SCHEMA, 'LanceBackend', ['storagePath'])
    super(options, 'lance', () => ({ ...baseNativeOptions(options, 'lance'), evolveSchema: false }))
    this.flushThreshold = options.flushThreshold ?? DEFAULT_FLUSH_THRESHOLD
  }

  /** A read-only view (get, getStream, stats, totalCount) of the data as it was at `version`. */
  async checkout(version: number): Promise<LanceBackend> {
    return LanceBackend.#fromCheckout(this, await this.checkoutStore(version))
  }

  static #fromCheckout(of: LanceBackend, store: NativeBucketStore): LanceBackend {
    return NativeBackend.adopting(
      store,
      () => new LanceBackend({ bucketId: of.bucketId, storagePath: of.storagePath, batchSize: of.batchSize }),
    )
  }
}
