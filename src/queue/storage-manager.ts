/**
 * Owns every BucketStorage of a system. Writers and readers of a topic get the very same
 * BucketStorage objects from here, which is what makes a record visible to a reader as
 * soon as the writer's put resolves.
 */
import type { BackendOptions } from '../backends/types.js'
import { StorageError } from '../errors.js'
import { checkContained } from '../contained-path.js'
import { invalidOption } from '../options/validate.js'
import { BucketStorage } from './bucket-storage.js'
import { configConflicts, isStoreUri, withDefaults, type TopicConfig } from './options.js'

interface TopicState {
  config: TopicConfig
  buckets: Map<number, BucketStorage>
}

export class StorageManager {
  private readonly topicStates = new Map<string, TopicState>()
  private isClosed = false

  get closed(): boolean {
    return this.isClosed
  }

  /**
   * Registers a topic on first use; afterwards returns its fixed configuration, rejecting
   * explicitly requested options that disagree with it (e.g. a reader with another numBuckets
   * would read the wrong buckets).
   */
  openTopic(topic: string, given: Partial<Omit<TopicConfig, 'topic'>>, who = 'queue'): TopicConfig {
    this.assertOpen()
    const state = this.topicStates.get(topic)
    if (state === undefined) {
      const config = withDefaults(topic, given)
      this.topicStates.set(topic, { config, buckets: new Map() })
      return config
    }
    const conflicts = configConflicts(state.config, given)
    if (conflicts.length > 0) {
      throw invalidOption(`${who} for topic '${topic}' asked for ${conflicts.join(', ')}; all writers and readers of a topic in one system must agree`)
    }
    return state.config
  }

  topicConfig(topic: string): TopicConfig | undefined {
    return this.topicStates.get(topic)?.config
  }

  topics(): string[] {
    return [...this.topicStates.keys()]
  }

  /**
   * The bucket's storage, constructing its backend on first use. A bucket first opened for
   * reading is a lock-free reader (native backends: `readOnly`), so a reader process never
   * blocks the writer process; a writer in this system later replaces it with the writable one.
   */
  bucket(topic: string, bucketId: number, mode: 'read' | 'write' = 'write'): BucketStorage {
    this.assertOpen()
    const state = this.topicStates.get(topic)
    if (state === undefined) throw new StorageError(`topic '${topic}' is not open`, 'NOT_FOUND')
    let storage = state.buckets.get(bucketId)
    if (storage !== undefined && mode === 'write' && storage.readOnly) {
      void storage.close().catch(() => undefined)
      storage = undefined
    }
    if (storage === undefined) {
      const { config } = state
      if (!Number.isSafeInteger(bucketId) || bucketId < 0 || bucketId >= config.numBuckets) {
        throw invalidOption(`bucketId ${bucketId} is out of range for ${config.numBuckets} buckets`)
      }
      const bucketPath = `${config.storagePath}/bucket_${bucketId}`
      // An object-store key has no symlinks to escape through; a local directory may.
      if (!isStoreUri(config.storagePath)) checkContained(config.storagePath, bucketPath)
      const walPath = config.walPath === undefined ? undefined : `${config.walPath}/bucket_${bucketId}`
      if (walPath !== undefined) checkContained(config.walPath!, walPath)
      // Backends declare what else they accept; user classes get exactly the documented options.
      const can = config.backend.capabilities ?? {}
      const options: BackendOptions = {
        bucketId,
        storagePath: bucketPath,
        batchSize: config.batchSize,
        ...(can.topic ? { topic } : {}),
        ...config.backendOptions,
        ...(walPath !== undefined ? { walPath } : {}),
        ...(config.storageOptions !== undefined ? { storageOptions: config.storageOptions } : {}),
      }
      const reader = mode === 'read' && can.readOnly === true && options.readOnly === undefined
      if (reader) options.readOnly = true
      storage = new BucketStorage(topic, bucketId, new config.backend(options), reader)
      state.buckets.set(bucketId, storage)
    }
    return storage
  }

  /**
   * Forgets buckets whose backend could not be opened (a writer that failed to claim them), so
   * the system's flush and shutdown do not report that failure again.
   */
  async discard(topic: string, bucketIds: Iterable<number>): Promise<void> {
    const state = this.topicStates.get(topic)
    if (state === undefined) return
    for (const id of bucketIds) {
      const storage = state.buckets.get(id)
      if (storage === undefined) continue
      state.buckets.delete(id)
      await storage.close().catch(() => undefined)
    }
  }

  /** Buckets constructed so far (a topic's untouched buckets have nothing to flush or close). */
  openBuckets(topic?: string): BucketStorage[] {
    const states = topic === undefined ? [...this.topicStates.values()] : [this.topicStates.get(topic)].filter((s) => s !== undefined)
    return states.flatMap((s) => [...s.buckets.values()])
  }

  async flushAll(): Promise<void> {
    await settleAll(this.openBuckets().map((b) => b.flush()))
  }

  /** Closes every bucket (all of them, even if some fail) and refuses further use. */
  async closeAll(): Promise<void> {
    this.isClosed = true
    await settleAll(this.openBuckets().map((b) => b.close()))
  }

  private assertOpen(): void {
    if (this.isClosed) throw new StorageError('the queue system has been shut down', 'CLOSED')
  }
}

/** Like Promise.all, but waits for every promise before throwing the first failure. */
export async function settleAll<T>(promises: Promise<T>[]): Promise<T[]> {
  const results = await Promise.allSettled(promises)
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected')
  if (failed) throw failed.reason
  return results.map((r) => (r as PromiseFulfilledResult<T>).value)
}
