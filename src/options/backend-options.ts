/**
 * Constructor options of the built-in backends: their types (with defaults and ranges) and the
 * schemas the constructors validate them with.
 */
import type { BackendOptions } from '../backends/types.js'
import { MAX_SECONDS } from '../defaults.js'
import { boolean, integer, nonEmptyString, nonNegativeInt, nullable, numberAbove, oneOf, positiveInt, rule, seconds, topicName, type Schema } from './validate.js'

export const COMPRESSIONS = ['zstd', 'lz4', 'snappy'] as const
/** Page compression of the stored columns (and of the WAL). */
export type Compression = (typeof COMPRESSIONS)[number]

export const WAL_RECOVERY_MODES = ['pointInTime', 'absolute'] as const
export type WalRecoveryMode = (typeof WAL_RECOVERY_MODES)[number]

/** MemoryBackend: the documented constructor options and `topic` (ignored). */
export interface MemoryBackendOptions extends BackendOptions {
  /** Non-negative integer. */
  bucketId: number
  /** Only reported in stats; default ''. */
  storagePath: string
  /** Positive integer; default 100 (DEFAULT_BATCH_SIZE). */
  batchSize?: number
  /** Accepted (the queue passes it to backends that declare the capability); unused. */
  topic?: string
}

const anyString = rule<string>('a string', (v) => typeof v === 'string')

export const MEMORY_SCHEMA: Schema = {
  bucketId: nonNegativeInt,
  storagePath: anyString,
  batchSize: positiveInt,
  topic: anyString,
}

export interface LanceBackendOptions extends BackendOptions {
  /** Integer; default 0. */
  bucketId: number
  /** Non-empty; the dataset lives in `${storagePath}/data.lance`. */
  storagePath: string
  /** Positive integer; default 100 (DEFAULT_BATCH_SIZE). First chunk size of streams. */
  batchSize?: number
  /** Positive integer; default 1000 (DEFAULT_FLUSH_THRESHOLD): records buffered before an automatic flush. */
  flushThreshold?: number
  /** Non-negative integer; fragments past which a flush also compacts (0 disables); default: the core's. */
  compactionThreshold?: number
  /** 'zstd' | 'lz4' | 'snappy' | null; default null (no compression). */
  compression?: Compression | null
  /** Non-empty; labels the bucket's metrics. Set by the queue. */
  topic?: string
  /** Open as a reader: no lock, no writes; sees what writers in any process flushed. Default false. */
  readOnly?: boolean
  /** Positive integer; default 16 MiB (DEFAULT_MAX_RECORD_BYTES): largest JSON of one record (INVALID_RECORD past it). */
  maxRecordBytes?: number
  /** Positive integer; default 256 MiB (DEFAULT_MAX_BATCH_BYTES): largest JSON of one put/putBatch call (INVALID_RECORD past it). */
  maxBatchBytes?: number
  /**
   * Positive integer; default 64 MiB (DEFAULT_MAX_BUFFER_BYTES): unflushed bytes per bucket past
   * which puts wait for a flush (back-pressure; a bucket whose flush fails stops, BUCKET_FAILED).
   */
  maxBufferBytes?: number
  /**
   * Top-level fields stored as float32 vector columns (`FixedSizeList<Float32, dim>`), by name:
   * `{ embedding: 384 }`. Each dimension is an integer from 1 to 2^31-1. A declared field takes
   * number arrays or Float32Array/Float64Array values of exactly that length (or null); anything
   * else is INVALID_RECORD. Default none: a field named `vector` holding number arrays, and any
   * Float32Array/Float64Array value, are vector columns without being declared.
   */
  vectorColumns?: Record<string, number>
  /**
   * Settings of the object store behind an `s3://` storagePath, passed to Lance as given
   * (`aws_endpoint`, `aws_region`, `aws_access_key_id`, `aws_secret_access_key`,
   * `aws_allow_http`, ...); the standard AWS environment variables fill the rest. Default none.
   */
  storageOptions?: Record<string, string>
  /**
   * Local directory of this bucket's WAL, writer lock and writer id. Default: storagePath when it
   * is local; required with `enableWal` when storagePath is an object store. The queue sets it
   * per bucket from its own `walPath`.
   */
  walPath?: string
  /**
   * Seconds a writer's lease of an object-store bucket lasts without renewal (renewed every third
   * of it), from 1 to one year; default 30 (DEFAULT_LEASE_TIMEOUT). A second writer gets LOCKED
   * while the lease is held; a crashed writer's bucket is free after it (its own restart, with the
   * same walPath, takes it back at once).
   */
  leaseTimeout?: number
}

export const stringSettings = rule<Record<string, string>>(
  'an object of string settings',
  (v) => typeof v === 'object' && v !== null && !Array.isArray(v) && Object.values(v).every((x) => typeof x === 'string'),
)

export const LANCE_SCHEMA: Schema = {
  bucketId: integer,
  storagePath: nonEmptyString,
  batchSize: positiveInt,
  flushThreshold: positiveInt,
  compactionThreshold: nonNegativeInt,
  compression: nullable(oneOf(COMPRESSIONS)),
  topic: topicName,
  readOnly: boolean,
  maxRecordBytes: positiveInt,
  maxBatchBytes: positiveInt,
  maxBufferBytes: positiveInt,
  vectorColumns: rule<Record<string, number>>(
    'an object mapping field names to vector dimensions (integers from 1 to 2147483647)',
    (v) =>
      typeof v === 'object' &&
      v !== null &&
      !Array.isArray(v) &&
      Object.entries(v).every(([k, d]) => k !== '' && Number.isSafeInteger(d) && (d as number) >= 1 && (d as number) <= 2147483647),
  ),
  storageOptions: stringSettings,
  walPath: nonEmptyString,
  leaseTimeout: rule<number>('a number of seconds from 1 to one year', (v) => typeof v === 'number' && v >= 1 && v <= MAX_SECONDS),
}

export interface PersistingBackendOptions extends LanceBackendOptions {
  /** Write-ahead log under `${storagePath}/wal/`; default false (DEFAULT_ENABLE_WAL). */
  enableWal?: boolean
  /** Prometheus metrics for this bucket; default false (DEFAULT_ENABLE_METRICS). */
  enableMetrics?: boolean
  /**
   * Seconds between background WAL fsyncs, 0 to one year; default 1.0 (DEFAULT_WAL_SYNC_INTERVAL).
   * 0 = fsync (group commit) before every acknowledgement.
   */
  walSyncInterval?: number
  /** Bytes per WAL file before a flush and rotation are forced, > 0; default 100 MiB (DEFAULT_MAX_WAL_SIZE). */
  maxWalSize?: number
  /**
   * Damage found by WAL recovery. 'pointInTime' (default): keep everything before the first
   * damaged frame, move later segments into `wal/quarantine/`, report it in `stats().walEvents`
   * and open. 'absolute': refuse to open (WAL_CORRUPT naming file and offset) on any damage but
   * a torn tail of the newest segment.
   */
  walRecoveryMode?: WalRecoveryMode
}

export const PERSISTING_SCHEMA: Schema = {
  ...LANCE_SCHEMA,
  enableWal: boolean,
  enableMetrics: boolean,
  walSyncInterval: seconds,
  walRecoveryMode: oneOf(WAL_RECOVERY_MODES),
  maxWalSize: numberAbove(0, true),
}
