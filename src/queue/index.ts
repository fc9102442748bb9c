/** The queue namespace (`pst.queue.*`), mirroring Pulsing's `pul.queue`. */
export { writeQueue, readQueue } from './open.js'
export { createSystem, System, type SystemQueueApi } from './system.js'
export { Queue, type PutResult, type PutBatchResult, type QueueStats } from './queue.js'
export { QueueWriter } from './writer.js'
export { QueueReader, DEFAULT_GET_LIMIT, type ReaderGetOptions, type ReaderStreamOptions } from './reader.js'
export { StorageManager } from './storage-manager.js'
export { BucketStorage } from './bucket-storage.js'
export type { StorageOptions, WriteQueueOptions, ReadQueueOptions, TopicConfig } from './options.js'
export { bucketFor } from '../routing.js'
export { registerBackend, getBackendClass, listBackends } from '../backends/registry.js'
export { MemoryBackend } from '../backends/memory.js'
export { LanceBackend } from '../backends/lance.js'
export { PersistingBackend } from '../backends/persisting.js'
export type { Row, BackendStats, BackendOptions, StorageBackend, BackendClass, BackendCapabilities } from '../backends/types.js'
export type { CleanupOptions, CleanupResult } from '../backends/native-backend.js'
export type {
  Compression,
  LanceBackendOptions,
  MemoryBackendOptions,
  PersistingBackendOptions,
  WalRecoveryMode,
} from '../options/backend-options.js'
