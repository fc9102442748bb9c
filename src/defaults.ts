/**
 * Every default of the TypeScript layer, in one place. Option docs (backends, queue, metrics)
 * name these values; code reads them from here instead of repeating the literals.
 * The native ones equal the core's `defaultOptions()` (test/native-errors.test.ts checks it).
 */

/** Records per backend round trip (backends' `batchSize`, the queue's `batchSize`). */
export const DEFAULT_BATCH_SIZE = 100
/** Records buffered in memory before a native backend flushes on its own. */
export const DEFAULT_FLUSH_THRESHOLD = 1000
/** PersistingBackend: the write-ahead log is off unless asked for. */
export const DEFAULT_ENABLE_WAL = false
/** PersistingBackend: seconds between background WAL fsyncs (0 = fsync before every ack). */
export const DEFAULT_WAL_SYNC_INTERVAL = 1.0
/** PersistingBackend: bytes per WAL file before a flush and rotation are forced (100 MiB). */
export const DEFAULT_MAX_WAL_SIZE = 100 * 1024 * 1024
/** PersistingBackend: Prometheus metrics are off unless asked for. */
export const DEFAULT_ENABLE_METRICS = false
/** PersistingBackend: what WAL recovery does with damage. */
export const DEFAULT_WAL_RECOVERY_MODE = 'pointInTime' as const
/** Native backends: no page compression unless asked for. */
export const DEFAULT_COMPRESSION = null
/** Native backends open as writers unless asked for a reader. */
export const DEFAULT_READ_ONLY = false

/** Queue: field whose value picks the bucket. */
export const DEFAULT_BUCKET_COLUMN = 'id'
/** Queue: buckets per topic. */
export const DEFAULT_NUM_BUCKETS = 4
/** Queue: backend by registered name. */
export const DEFAULT_BACKEND = 'memory'
/** Queue: where a topic's buckets live unless `storagePath` is given. */
export const defaultStoragePath = (topic: string): string => `./queue_storage/${topic}`
/** QueueReader.get: most records per call (Pulsing's default). */
export const DEFAULT_GET_LIMIT = 100

/** serveMetrics: port (Prometheus exporters' customary 9464) and host. */
export const DEFAULT_METRICS_PORT = 9464
export const DEFAULT_METRICS_HOST = '127.0.0.1'

/** Longest accepted duration option (a year): beyond it an interval means "never" and overflows timers. */
export const MAX_SECONDS = 365 * 24 * 3600
/** Records the queue fetches per backend round trip while streaming. */
export const QUEUE_STREAM_CHUNK = 256
/** Largest chunk a native stream reads at once; streams start at batchSize and grow towards it. */
export const MAX_NATIVE_STREAM_CHUNK = 65_536

/** Native backends: largest JSON of one record (16 MiB). */
export const DEFAULT_MAX_RECORD_BYTES = 16 * 1024 * 1024
/** Native backends: largest JSON of one put/putBatch call (256 MiB). */
export const DEFAULT_MAX_BATCH_BYTES = 256 * 1024 * 1024
/** Native backends: unflushed bytes per bucket before puts wait for a flush (64 MiB). */
export const DEFAULT_MAX_BUFFER_BYTES = 64 * 1024 * 1024
/** Native backends on an object store: seconds a writer's bucket lease lasts without renewal. */
export const DEFAULT_LEASE_TIMEOUT = 30

/** `cleanupOldVersions()` removes versions older than this many seconds (7 days, as LanceDB's `optimize`). */
export const DEFAULT_CLEANUP_OLDER_THAN = 7 * 24 * 3600
